package scim

import (
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// groupSchema is RFC 7643's Group schema, except that displayName is
// advertised with uniqueness "server": this server refuses a second group
// with the same displayName (case-insensitively), because connectors map a
// group to a team or channel by that name.
func groupSchema() schema.Schema {
	s := schema.CoreGroupSchema()
	attrs := make([]schema.CoreAttribute, 0, len(s.Attributes))
	for _, a := range s.Attributes {
		if a.Name() == "displayName" {
			a = schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Description: optional.NewString("A human-readable name for the Group, unique case-insensitively in this server. REQUIRED."),
				Name:        "displayName",
				Required:    true,
				Uniqueness:  schema.AttributeUniquenessServer(),
			}))
		}
		attrs = append(attrs, a)
	}
	s.Attributes = attrs
	return s
}
