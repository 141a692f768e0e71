package formulas

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The naming rules of each service, restated here so that this package
// stays free of the services' SDKs; names_test.go checks them against
// the SDKs' own validators where those exist.

// Gitea: characters of the API's AlphaDashDot binding (letters, digits,
// '-', '_', '.'), used for repository and team names
// (modules/structs/repo.go CreateRepoOption, modules/structs/org_team.go
// CreateTeamOption in go-gitea/gitea).
var giteaAlphaDashDot = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Gitea usernames and organization names: a letter or digit first, then
// letters, digits, '-', '_' and '.', without two punctuation characters
// in a row or one at the end (modules/validation/helpers.go
// IsValidUsername in go-gitea/gitea).
var (
	giteaUsername        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	giteaUsernameInvalid = regexp.MustCompile(`[-._]{2,}|[-._]$`)
)

const (
	giteaRepoNameMax   = 100  // CreateRepoOption.Name MaxSize(100)
	giteaOrgNameMax    = 40   // CreateOrgOption.UserName MaxSize(40)
	giteaTeamNameMax   = 255  // CreateTeamOption.Name MaxSize(255)
	giteaRepoDescMax   = 2048 // CreateRepoOption.Description MaxSize(2048)
	coderNameMax       = 32   // codersdk.NameValid
	mattermostNameMax  = 64   // model.ChannelNameMaxLength, model.TeamNameMaxLength
	mattermostTeamMin  = 2    // model.TeamNameMinLength
	mattermostTitleMax = 64   // model.ChannelDisplayNameMaxRunes
	dnsLabelMax        = 63
	backstageTagMax    = 63
)

// checkGiteaRepoName applies Gitea's repository name rules: AlphaDashDot,
// at most 100 characters, no "..", not ".", ".." or "-", and not ending
// in ".git", ".wiki", ".rss" or ".atom" in any case (models/repo/repo.go
// IsUsableRepoName and models/db/name.go IsUsableName in go-gitea/gitea).
func checkGiteaRepoName(s string) error {
	if err := checkLength(s, 1, giteaRepoNameMax); err != nil {
		return err
	}
	if !giteaAlphaDashDot.MatchString(s) {
		return errors.New("a Gitea repository name may contain only letters, digits, '-', '_' and '.'")
	}
	if strings.Contains(s, "..") {
		return errors.New("a Gitea repository name may not contain \"..\"")
	}
	lower := strings.ToLower(s)
	if lower == "." || lower == "-" {
		return fmt.Errorf("%q is reserved by Gitea", s)
	}
	for _, suffix := range []string{".git", ".wiki", ".rss", ".atom"} {
		if strings.HasSuffix(lower, suffix) {
			return fmt.Errorf("a Gitea repository name may not end in %q", suffix)
		}
	}
	return nil
}

// checkGiteaOwner applies Gitea's username rules, which organization
// names share, with the organization limit of 40 characters.
func checkGiteaOwner(s string) error {
	if err := checkLength(s, 1, giteaOrgNameMax); err != nil {
		return err
	}
	if !giteaUsername.MatchString(s) || giteaUsernameInvalid.MatchString(s) {
		return errors.New("a Gitea organization name starts with a letter or digit and contains only letters, digits and single '-', '_' or '.' not at the end")
	}
	return nil
}

// checkGiteaTeamName applies Gitea's team name rules. The Owners team is
// refused: membership would make every member an owner of the
// organization, which a formula should not hand out.
func checkGiteaTeamName(s string) error {
	if err := checkLength(s, 1, giteaTeamNameMax); err != nil {
		return err
	}
	if !giteaAlphaDashDot.MatchString(s) {
		return errors.New("a Gitea team name may contain only letters, digits, '-', '_' and '.'")
	}
	if strings.EqualFold(s, "owners") {
		return errors.New("the Owners team makes its members owners of the organization and cannot be granted by a formula")
	}
	return nil
}

// checkGiteaTemplate checks a template repository reference, "owner/name".
func checkGiteaTemplate(s string) error {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" {
		return errors.New(`a template repository is written "owner/name"`)
	}
	if err := checkGiteaOwner(owner); err != nil {
		return fmt.Errorf("template owner %q: %w", owner, err)
	}
	if err := checkGiteaRepoName(name); err != nil {
		return fmt.Errorf("template name %q: %w", name, err)
	}
	return nil
}

// coderName is codersdk's UsernameValidRegex: runs of letters and digits
// joined by single hyphens (codersdk/name.go in coder/coder).
var coderName = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

// checkCoderName applies codersdk.NameValid, the rule for workspace and
// template names: 1 to 32 letters, digits and single inner hyphens, and
// neither "new" nor "create". Coder compares workspace names
// case-insensitively.
func checkCoderName(s string) error {
	if err := checkLength(s, 1, coderNameMax); err != nil {
		return err
	}
	if s == "new" || s == "create" {
		return fmt.Errorf("Coder reserves the name %q", s)
	}
	if !coderName.MatchString(s) {
		return errors.New("a Coder name contains only letters, digits and single hyphens between them")
	}
	return nil
}

// mattermostChannel is model.IsValidChannelIdentifier: a lowercase letter
// or digit first, then lowercase letters, digits, '-' and '_'
// (server/public/model/utils.go validSimpleAlphaNum in
// mattermost/mattermost).
var mattermostChannel = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// checkMattermostChannel applies Mattermost's channel name (URL name)
// rules, at most 64 characters (the column's width).
func checkMattermostChannel(s string) error {
	if err := checkLength(s, 1, mattermostNameMax); err != nil {
		return err
	}
	if !mattermostChannel.MatchString(s) {
		return errors.New("a Mattermost channel name starts with a lowercase letter or digit and contains only lowercase letters, digits, '-' and '_'")
	}
	return nil
}

// mattermostTeam is model.IsValidTeamName: lowercase letters, digits and
// '-', starting and ending with a letter or digit, or two such runs
// joined by "__" (server/public/model/team.go and utils.go validAlphaNum).
var mattermostTeam = regexp.MustCompile(`^[a-z0-9]+(([a-z0-9-]+)|(__))?[a-z0-9]+$`)

// mattermostReservedTeam are the prefixes model.IsReservedTeamName
// refuses (server/public/model/utils.go reservedName).
var mattermostReservedTeam = []string{
	"admin", "api", "boards", "channel", "claim", "error", "files", "help",
	"landing", "login", "mfa", "oauth", "playbooks", "plug", "plugins",
	"post", "signup",
}

// checkMattermostTeam applies Mattermost's team name (URL name) rules.
func checkMattermostTeam(s string) error {
	if err := checkLength(s, mattermostTeamMin, mattermostNameMax); err != nil {
		return err
	}
	if !mattermostTeam.MatchString(s) {
		return errors.New("a Mattermost team name contains only lowercase letters, digits and '-', and starts and ends with a letter or digit")
	}
	for _, p := range mattermostReservedTeam {
		if strings.HasPrefix(s, p) {
			return fmt.Errorf("Mattermost reserves team names that start with %q", p)
		}
	}
	return nil
}

// checkMattermostDisplayName bounds a channel's display name.
func checkMattermostDisplayName(s string) error {
	if utf8.RuneCountInString(s) > mattermostTitleMax {
		return fmt.Errorf("a Mattermost display name has at most %d characters", mattermostTitleMax)
	}
	if strings.TrimSpace(s) == "" {
		return errors.New("a Mattermost display name may not be blank")
	}
	return nil
}

// checkCoderPreset checks a preset's name. Coder takes any name that is
// not empty (the name of a coder_workspace_preset, validation.StringIsNotEmpty
// in coder/terraform-provider-coder provider/workspace_preset.go) and
// compares it exactly, so a blank name or one with surrounding white
// space or control characters can only be a mistake.
func checkCoderPreset(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("a Coder preset name may not be blank")
	}
	if strings.TrimSpace(s) != s {
		return errors.New("a Coder preset name may not start or end with white space")
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return errors.New("a Coder preset name may not contain control characters")
	}
	return nil
}

// checkGiteaDescription bounds a repository description.
func checkGiteaDescription(s string) error {
	if utf8.RuneCountInString(s) > giteaRepoDescMax {
		return fmt.Errorf("a Gitea repository description has at most %d characters", giteaRepoDescMax)
	}
	return nil
}

// dnsLabel is an RFC 1123 label in lowercase: the formula name rule.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func checkFormulaName(s string) error {
	if err := checkLength(s, 1, dnsLabelMax); err != nil {
		return err
	}
	if !dnsLabel.MatchString(s) {
		return errors.New("a formula name contains only lowercase letters, digits and '-', and starts and ends with a letter or digit")
	}
	return nil
}

// backstageTag is the tag rule of the Backstage catalog, which reads
// formulas (packages/catalog-model/src/validation/
// CommonValidatorFunctions.ts isValidTag in backstage/backstage).
var backstageTag = regexp.MustCompile(`^[a-z0-9+#]+(-[a-z0-9+#]+)*$`)

func checkTag(s string) error {
	if err := checkLength(s, 1, backstageTagMax); err != nil {
		return err
	}
	if !backstageTag.MatchString(s) {
		return errors.New("a tag contains only lowercase letters, digits, '+', '#' and single inner '-'")
	}
	return nil
}

// paramName is a parameter's name, as it is written after "params.".
var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkLength bounds the length of s in characters.
func checkLength(s string, lo, hi int) error {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return errors.New("may not be empty")
	case n < lo:
		return fmt.Errorf("must have at least %d characters", lo)
	case n > hi:
		return fmt.Errorf("must have at most %d characters, has %d", hi, n)
	}
	return nil
}
