package fold

import "testing"

func TestAccents(t *testing.T) {
	for in, want := range map[string]string{
		"José":             "Jose",
		"Ana María O'Neil": "Ana Maria O'Neil",
		"Straße":           "Strasse",
		"Søren Łukasz Ærø": "Soren Lukasz AEro",
		"Œuvre þorn Đak":   "OEuvre thorn Dak",
		"日本":               "日本",
		"":                 "",
	} {
		if got := Accents(in); got != want {
			t.Errorf("Accents(%q) = %q, want %q", in, got, want)
		}
	}
}
