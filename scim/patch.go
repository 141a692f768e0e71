package scim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/scim/quirks"
)

// patch serves PATCH /Users/{id} and /Groups/{id} (RFC 7644 §3.5.2):
// decode, normalise client quirks, check the PatchOp envelope, then apply
// every operation in one store transaction, all or nothing.
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, rh resourceHandler, id string, body []byte) {
	ifv, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := decodeObject(body)
	if err != nil {
		writeError(w, err)
		return
	}
	changes, err := quirks.Patch(rh.name(), req)
	if err != nil {
		writeError(w, errInvalidValue("%s", err.Error()))
		return
	}
	h.logQuirks(r, changes)
	ops, err := patchOps(req)
	if err != nil {
		writeError(w, err)
		return
	}
	doc, version, err := rh.patch(r.Context(), r, id, ifv, ops)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("ETag", etag(version))
	if doc == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	proj, err := projectionFromURL(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	if u, ok := rh.(*userHandler); ok && proj.wants("groups") {
		groups, err := u.userGroups(r.Context(), stateOf(r).base, id)
		if err != nil {
			writeError(w, h.fail(r.Context(), "user", err))
			return
		}
		doc["groups"] = groups
	}
	doc = proj.apply(doc, rh.schemaOf())
	doc["schemas"] = schemasOf(rh.name(), doc)
	b, err := json.Marshal(doc)
	if err != nil {
		writeError(w, h.fail(r.Context(), "patch", err))
		return
	}
	w.Header().Set("Location", stateOf(r).base+"/"+rh.name()+"s/"+id)
	_, _ = w.Write(b)
}

// patchOps checks the PatchOp envelope and returns its operations.
func patchOps(req map[string]any) ([]patch.Operation, error) {
	schemas, _ := getCI(req, "schemas").([]any)
	if len(schemas) != 1 || schemas[0] != schemaPatchOp {
		return nil, errInvalidSyntax("schemas must be [%q]", schemaPatchOp)
	}
	raw, ok := getCI(req, "Operations").([]any)
	if !ok || len(raw) == 0 {
		return nil, errInvalidSyntax("Operations must be a non-empty list")
	}
	ops := make([]patch.Operation, 0, len(raw))
	for i, o := range raw {
		m, ok := o.(map[string]any)
		if !ok {
			return nil, errInvalidSyntax("operation %d is not an object", i+1)
		}
		op, ok := getCI(m, "op").(string)
		if !ok {
			return nil, errInvalidSyntax("operation %d has no op", i+1)
		}
		switch strings.ToLower(op) {
		case "add", "replace", "remove":
		default:
			return nil, errInvalidSyntax("operation %d: op must be add, replace or remove", i+1)
		}
		var path string
		if p := getCI(m, "path"); p != nil {
			s, ok := p.(string)
			if !ok {
				return nil, errInvalidSyntax("operation %d: path must be a string", i+1)
			}
			path = s
		}
		if strings.ToLower(op) == "remove" && strings.TrimSpace(path) == "" {
			return nil, scimErr(http.StatusBadRequest, "noTarget", "operation %d: remove needs a path", i+1)
		}
		ops = append(ops, patch.Operation{Op: strings.ToLower(op), Path: path, Value: getCI(m, "value")})
	}
	return ops, nil
}
