package formulas

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse reads one formula from YAML (or JSON, which YAML includes) and
// validates it. When anything is wrong the error is Errors, listing every
// problem with its path, line and column; unknown keys are problems too.
// Names without expressions are checked against each service's naming
// rules here; names with expressions are checked by Expand.
func Parse(src []byte) (*Formula, error) {
	root, errs := parseYAML(src)
	if errs != nil {
		return nil, errs
	}
	d := &decoder{pos: map[string]*yaml.Node{"": root}}
	f := d.formula(root)
	errs = d.errs
	for _, e := range f.check() {
		if d.failed(e.Path) {
			continue // the decoder said what is wrong there already
		}
		n := d.nearest(e.Path)
		e.Line, e.Column = n.Line, n.Column
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		errs.sortByPosition()
		return nil, errs
	}
	return f, nil
}

// yamlLine finds the line in the messages of the YAML parser.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads exactly one YAML document into a node tree.
func parseYAML(src []byte) (*yaml.Node, Errors) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Msg: "the document is empty"}}
		}
		return nil, Errors{yamlError(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Errors{yamlError(err)}
	default:
		return nil, Errors{{Line: next.Line, Column: next.Column, Msg: "a file holds one formula: a second YAML document starts here"}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{Msg: "the document is empty"}}
	}
	return doc.Content[0], nil
}

func yamlError(err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Line: line, Msg: "YAML: " + m[2]}
	}
	return &Error{Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decoder turns the node tree into a Formula, recording where each path
// is written and reporting shapes that do not fit (unknown keys, a list
// where a mapping belongs, a number where a string belongs).
type decoder struct {
	errs Errors
	// pos is the node each path is written at: the value for a single
	// value, the key for a mapping or a list, the item for a list item.
	pos map[string]*yaml.Node
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{Path: path, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// failed reports whether the decoder already reported a problem at path,
// inside it or around it, so that one mistake is not reported twice
// ("must be a mapping", then "required").
func (d *decoder) failed(path string) bool {
	for _, e := range d.errs {
		if within(e.Path, path) || within(path, e.Path) {
			return true
		}
	}
	return false
}

// nearest is the node of path, or of its closest ancestor that is
// written (a missing key is reported at its mapping).
func (d *decoder) nearest(path string) *yaml.Node {
	for {
		if n, ok := d.pos[path]; ok {
			return n
		}
		if path == "" {
			return &yaml.Node{}
		}
		path = parent(path)
	}
}

// resolve follows aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describeNode names a node's kind for messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return strings.TrimPrefix(n.Tag, "!!") + " " + strconv.Quote(n.Value)
	}
	return "something else"
}

// field decodes the value of one key of a mapping.
type field func(n *yaml.Node, path string)

// mapping walks a mapping whose keys are known: each key's value goes to
// its field; unknown and repeated keys are problems. It reports whether
// n is a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]field) bool {
	return d.entries(n, path, func(key string, k, v *yaml.Node, child string) {
		fn, ok := fields[key]
		if !ok {
			d.errorf(k, child, "unknown key %q (known: %s)", key, strings.Join(sortedKeys(fields), ", "))
			return
		}
		fn(v, child)
	})
}

// entries walks a mapping with any keys, calling fn for each.
func (d *decoder) entries(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node, child string)) bool {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		hint := ""
		if isNull(n) {
			hint = " (write {} for an empty one)"
		}
		d.errorf(n, path, "must be a mapping, is %s%s", describeNode(n), hint)
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "a key must be a plain name, is %s", describeNode(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, path, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, child, "duplicate key (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.ScalarNode {
			d.pos[child] = v
		} else {
			d.pos[child] = k
		}
		fn(k.Value, k, v, child)
	}
	return true
}

// sequence walks a list, calling fn for each item.
func (d *decoder) sequence(n *yaml.Node, path string, fn func(item *yaml.Node, path string)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list, is %s", describeNode(n))
		return
	}
	for i, item := range n.Content {
		item = resolve(item)
		child := fmt.Sprintf("%s[%d]", path, i)
		d.pos[child] = item
		fn(item, child)
	}
}

// str decodes a single value as text: a string, or a number or boolean
// written without quotes ("version: 2" is the text "2"). Empty is "".
func (d *decoder) str(dst *string) field {
	return func(n *yaml.Node, path string) {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "must be text, is %s", describeNode(n))
			return
		}
		if isNull(n) {
			return
		}
		*dst = n.Value
	}
}

// boolean decodes true or false.
func (d *decoder) boolean(dst *bool) field {
	return func(n *yaml.Node, path string) {
		n = resolve(n)
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, path, "must be true or false, is %s", describeNode(n))
			return
		}
		*dst = n.Value == "true"
	}
}

// optBool decodes true or false into a pointer, leaving nil when absent.
func (d *decoder) optBool(dst **bool) field {
	return func(n *yaml.Node, path string) {
		var b bool
		before := len(d.errs)
		d.boolean(&b)(n, path)
		if len(d.errs) == before && !isNull(resolve(n)) {
			*dst = &b
		}
	}
}

// number decodes an integer or a number.
func (d *decoder) number(dst **float64) field {
	return func(n *yaml.Node, path string) {
		n = resolve(n)
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errorf(n, path, "must be a number, is %s", describeNode(n))
			return
		}
		var x float64
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "must be a number: %v", err)
			return
		}
		*dst = &x
	}
}

// value decodes a single value of any type (a string, an integer, a
// number or a boolean), as a parameter's default and enum hold.
func (d *decoder) value(dst *any) field {
	return func(n *yaml.Node, path string) {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "must be a single value, is %s", describeNode(n))
			return
		}
		if isNull(n) {
			return
		}
		var v any
		if err := n.Decode(&v); err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		*dst = v
	}
}

func (d *decoder) strList(dst *[]string) field {
	return func(n *yaml.Node, path string) {
		d.sequence(n, path, func(item *yaml.Node, child string) {
			var s string
			d.str(&s)(item, child)
			*dst = append(*dst, s)
		})
	}
}

func (d *decoder) formula(root *yaml.Node) *Formula {
	f := &Formula{}
	d.mapping(root, "", map[string]field{
		"apiVersion": d.str(&f.APIVersion),
		"kind":       d.str(&f.Kind),
		"metadata": func(n *yaml.Node, path string) {
			m := &f.Metadata
			d.mapping(n, path, map[string]field{
				"name":        d.str(&m.Name),
				"title":       d.str(&m.Title),
				"description": d.str(&m.Description),
				"tags":        d.strList(&m.Tags),
			})
		},
		"spec": func(n *yaml.Node, path string) { d.spec(n, path, &f.Spec) },
	})
	return f
}

func (d *decoder) spec(n *yaml.Node, path string, s *Spec) {
	var onRemove string
	d.mapping(n, path, map[string]field{
		"version": d.str(&s.Version),
		"parameters": func(n *yaml.Node, path string) {
			if isNull(resolve(n)) {
				return
			}
			s.Parameters = map[string]Parameter{}
			d.entries(n, path, func(name string, _, v *yaml.Node, child string) {
				s.Parameters[name] = d.parameter(v, child)
			})
		},
		"resources": func(n *yaml.Node, path string) { d.resources(n, path, &s.Resources) },
		"onRemove":  d.str(&onRemove),
	})
	s.OnRemove = RemovePolicy(onRemove)
}

func (d *decoder) parameter(n *yaml.Node, path string) Parameter {
	var p Parameter
	d.mapping(n, path, map[string]field{
		"type":        d.str(&p.Type),
		"title":       d.str(&p.Title),
		"description": d.str(&p.Description),
		"enum": func(n *yaml.Node, path string) {
			d.sequence(n, path, func(item *yaml.Node, child string) {
				var v any
				d.value(&v)(item, child)
				p.Enum = append(p.Enum, v)
			})
		},
		"default":  d.value(&p.Default),
		"minimum":  d.number(&p.Minimum),
		"maximum":  d.number(&p.Maximum),
		"pattern":  d.str(&p.Pattern),
		"required": d.boolean(&p.Required),
	})
	return p
}

func (d *decoder) resources(n *yaml.Node, path string, r *ResourcesSpec) {
	d.mapping(n, path, map[string]field{
		"gitea": func(n *yaml.Node, path string) {
			g := &GiteaSpec{}
			if !d.mapping(n, path, map[string]field{
				"repos": func(n *yaml.Node, path string) {
					d.sequence(n, path, func(item *yaml.Node, child string) {
						var repo RepoSpec
						d.mapping(item, child, map[string]field{
							"owner":       d.str(&repo.Owner),
							"name":        d.str(&repo.Name),
							"template":    d.str(&repo.Template),
							"description": d.str(&repo.Description),
							"private":     d.optBool(&repo.Private),
							"permission":  d.str(&repo.Permission),
						})
						g.Repos = append(g.Repos, repo)
					})
				},
				"teams": func(n *yaml.Node, path string) {
					d.sequence(n, path, func(item *yaml.Node, child string) {
						var team TeamSpec
						d.mapping(item, child, map[string]field{
							"org":  d.str(&team.Org),
							"team": d.str(&team.Team),
						})
						g.Teams = append(g.Teams, team)
					})
				},
			}) {
				return
			}
			r.Gitea = g
		},
		"coder": func(n *yaml.Node, path string) {
			c := &CoderSpec{}
			if !d.mapping(n, path, map[string]field{
				"workspaces": func(n *yaml.Node, path string) {
					d.sequence(n, path, func(item *yaml.Node, child string) {
						var ws WorkspaceSpec
						d.mapping(item, child, map[string]field{
							"name":     d.str(&ws.Name),
							"template": d.str(&ws.Template),
							"preset":   d.str(&ws.Preset),
							"parameters": func(n *yaml.Node, path string) {
								if isNull(resolve(n)) {
									return
								}
								ws.Parameters = map[string]string{}
								d.entries(n, path, func(key string, _, v *yaml.Node, child string) {
									var s string
									d.str(&s)(v, child)
									ws.Parameters[key] = s
								})
							},
						})
						c.Workspaces = append(c.Workspaces, ws)
					})
				},
			}) {
				return
			}
			r.Coder = c
		},
		"mattermost": func(n *yaml.Node, path string) {
			m := &MattermostSpec{}
			if !d.mapping(n, path, map[string]field{
				"channels": func(n *yaml.Node, path string) {
					d.sequence(n, path, func(item *yaml.Node, child string) {
						var ch ChannelSpec
						d.mapping(item, child, map[string]field{
							"team":        d.str(&ch.Team),
							"name":        d.str(&ch.Name),
							"displayName": d.str(&ch.DisplayName),
							"private":     d.boolean(&ch.Private),
						})
						m.Channels = append(m.Channels, ch)
					})
				},
			}) {
				return
			}
			r.Mattermost = m
		},
		"twenty": func(n *yaml.Node, path string) {
			t := &TwentySpec{}
			if !d.mapping(n, path, map[string]field{
				"person": func(n *yaml.Node, path string) {
					p := &PersonSpec{}
					if d.mapping(n, path, map[string]field{
						"jobTitle": d.str(&p.JobTitle),
						"city":     d.str(&p.City),
					}) {
						t.Person = p
					}
				},
			}) {
				return
			}
			r.Twenty = t
		},
	})
}
