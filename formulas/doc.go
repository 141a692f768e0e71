// Package formulas reads, checks and expands formulas: provisioning
// bundles that an admin binds to a group, so that every member gets a
// repository, a workspace, channels and a CRM record prepared for them.
//
// The package is pure. Parse takes bytes; Expand takes a formula,
// parameter values and a subject and returns what each service's
// connector must ensure; nothing here reads a file or calls a service.
//
//	f, err := formulas.Parse(src)                   // every problem, with lines
//	params, err := f.ResolveParams(binding.Params) // text to typed values
//	res, err := formulas.Expand(f, params, formulas.Subject{User: u, Group: g})
//	all := formulas.Union(res, other)               // all of one user's bindings
//
// # Format
//
// One formula per file, in YAML (or JSON):
//
//	apiVersion: scimbridge.dev/v1
//	kind: Formula
//	metadata:
//	  name: ml-research
//	  title: ML Research Workspace
//	  description: A GPU workspace and a research repository.
//	  tags: [machine-learning, gpu]
//	spec:
//	  version: 2.0.0
//	  parameters:
//	    gpu_type: {type: string, enum: [nvidia-a100, nvidia-h100], default: nvidia-a100}
//	    storage_gb: {type: integer, minimum: 100, maximum: 2000, default: 500}
//	  resources:
//	    gitea:
//	      repos:
//	        - name: "${{ user.userName | local | slug }}-research"
//	          template: platform/ml-template
//	      teams:
//	        - {org: research, team: ml}
//	    coder:
//	      workspaces:
//	        - name: "ml-${{ user.userName | local | slug }}"
//	          template: ml-research
//	          parameters:
//	            gpu_type: "${{ params.gpu_type }}"
//	            storage_gb: "${{ params.storage_gb }}"
//	    mattermost:
//	      channels:
//	        - {team: research, name: ml-research, displayName: ML Research}
//	    twenty:
//	      person: {jobTitle: Researcher}
//	  onRemove: suspend
//
// Unknown keys are errors, as are duplicate keys, YAML merge keys (<<)
// and a second document in the file. Fields:
//
//   - apiVersion: scimbridge.dev/v1. kind: Formula.
//   - metadata.name (required): lowercase letters, digits and '-', at
//     most 63 characters, starting and ending with a letter or digit. It
//     names the formula in bindings.
//   - metadata.title, metadata.description: free text.
//   - metadata.tags: Backstage catalog tags (lowercase letters, digits,
//     '+', '#' and single inner '-', at most 63 characters), no
//     duplicates.
//   - spec.version (required): a semantic version (semver.org), such as
//     2.0.0 or 2.1.0-rc.1. Versions are ordered by CompareVersions.
//   - spec.parameters: the values a binding may set, each a subset of
//     JSON Schema: type (string, integer, number or boolean; required),
//     title, description, enum (the only values allowed), default,
//     minimum and maximum (integer and number, inclusive), pattern (string;
//     Go RE2 syntax, matched anywhere in the value as in JSON Schema:
//     anchor it with ^ and $) and required (true: every binding must set
//     it). A parameter has a default or is required, not both; the
//     default must satisfy the parameter's own rules. Names start with a
//     letter or '_' and contain letters, digits and '_'.
//   - spec.resources (required, at least one service): see below.
//   - spec.onRemove: keep, suspend (the default) or delete; see below.
//
// # Resources
//
// gitea.repos: repositories.
//
//   - name (required): Gitea's repository name rule: letters, digits,
//     '-', '_' and '.', at most 100 characters, no "..", not "." or "-",
//     not ending in .git, .wiki, .rss or .atom.
//   - owner: an organization (Gitea's organization name rule: a letter or
//     digit first, then letters, digits and single '-', '_' or '.', not
//     at the end; at most 40 characters). Omitted, the repository belongs
//     to the user's own account.
//   - template: "owner/name" of a template repository whose content the
//     new repository starts with; omitted, the repository starts empty.
//   - description: at most 2048 characters.
//   - private: true by default.
//   - permission: for a repository of an organization, the user's access
//     as a collaborator: read, write (the default) or admin. Not allowed
//     for the user's own repositories.
//
// gitea.teams: memberships of existing teams (the team is not created).
// org (required) follows the organization name rule; team (required)
// contains letters, digits, '-', '_' and '.', at most 255 characters. The
// Owners team is refused: a formula does not hand out ownership of an
// organization.
//
// coder.workspaces: workspaces owned by the user.
//
//   - name (required) and template (required, the name of a Coder
//     template): Coder's name rule (codersdk.NameValid): 1 to 32 letters,
//     digits and single hyphens between them, not "new" or "create".
//     Coder compares workspace names without regard to case.
//   - parameters: the template's rich parameter values by name. Coder
//     takes them as text, so every value renders to a string: an integer
//     parameter 500 gives "500", a boolean gives "true" or "false".
//   - preset: the name of one of the template's presets (as Coder shows
//     it, compared exactly). The workspace gets the preset's parameter
//     values, which win over parameters of the same name.
//
// mattermost.channels: memberships of channels in existing teams. The
// channel is created when it does not exist.
//
//   - team (required): Mattermost's team name rule (model.IsValidTeamName):
//     2 to 64 lowercase letters, digits and '-', starting and ending with
//     a letter or digit, and not starting with a name Mattermost reserves
//     (admin, api, channel, login, signup, ...).
//   - name (required): Mattermost's channel name rule
//     (model.IsValidChannelIdentifier): 1 to 64 lowercase letters, digits,
//     '-' and '_', starting with a letter or digit.
//   - displayName: at most 64 characters; omitted, the name.
//   - private: a new channel is private (false by default).
//
// twenty.person: the user's Person record in Twenty CRM (name and email
// come from the user). Write person: {} for a record with nothing more;
// jobTitle and city are optional.
//
// Two items of one formula may not name the same resource (compared as
// the service compares them, so "ML-Alice" and "ml-alice" are the same
// Coder workspace). This is checked when parsing for names without
// expressions and by Expand for the others.
//
// # Expressions
//
// Every text field under spec.resources may contain expressions,
// ${{ name }} or ${{ name | filter | filter }}, anywhere in the text.
// An expression is a dotted name and nothing else: no code runs, and no
// other syntax exists (there is no escape for a literal "${{"). The names:
//
//   - user.id, user.userName, user.externalId, user.email,
//     user.name.givenName, user.name.familyName, user.displayName and
//     user.subject (the OIDC subject the connectors link accounts with);
//   - group.id and group.displayName, of the bound group;
//   - params.<name>, a declared parameter.
//
// A missing attribute renders empty. The filters, applied from left to
// right:
//
//   - lower: lowercase;
//   - local: the part of an email address before its last '@' (the text
//     itself when it has none);
//   - slug: lowercase, accents removed (æ, ø, ß, ł, œ, đ and þ spelled
//     out in ASCII), and every run of characters other than a-z and 0-9
//     turned into one '-', with none at either end ("Ana María O'Neil"
//     gives "ana-maria-o-neil");
//   - trunc N: the first N characters (N from 1 to 1000), without the
//     '-', '_' or '.' the cut leaves at the end ("ana-maria" | trunc 4
//     gives "ana").
//
// userName is often an email address, which no service accepts in a
// name: write "${{ user.userName | local | slug }}" to get "alice" from
// "Alice@example.com". A Coder workspace name has at most 32 characters:
// "ml-${{ user.userName | local | slug | trunc 29 }}" keeps a long name
// within it (two users whose names share their first 29 characters then
// ask for the same workspace name, each in their own account). An unknown name or filter is an error when the
// formula is parsed. A name with expressions is checked against its
// service's rule after rendering, by Expand: the error says which user's
// value broke it (a workspace name longer than 32 characters, say).
//
// # Removal
//
// When a member leaves a bound group, or a binding goes, the resources
// no other binding still asks for are removed by the formula's onRemove
// policy:
//
//   - keep: everything stays as it is, access included.
//   - suspend (the default): access goes and data stays. Coder workspaces
//     are stopped; Gitea team memberships and collaborator access to
//     organization repositories are removed; Mattermost channel
//     memberships are removed. The user's own Gitea repositories and
//     every workspace's disk stay; the Twenty record stays, with the
//     fields the formula set cleared.
//   - delete: Coder workspaces and Gitea repositories (the user's own and
//     those of organizations) are deleted; team and channel memberships
//     are removed as with suspend. Channels and teams themselves are
//     shared and never deleted. The Twenty Person record goes to
//     Twenty's trash when the user is deleted; for a user who still
//     exists it stays, with its fields cleared as with suspend, since it
//     is that user's record in the CRM.
//
// When several formulas ask for one resource, the least destructive of
// their policies applies to it (Union).
//
// # Bindings of several formulas
//
// One user may get many formulas, through many groups. Union merges
// them: identical resources become one, and conflicting definitions of
// one resource (one workspace name, two templates) are settled by a fixed
// rule and reported as Conflicts rather than failing (see Union).
package formulas
