package formulas

import "testing"

func TestCompareVersions(t *testing.T) {
	// The precedence example of semver.org, in order.
	ordered := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
		"1.2.0", "1.10.0", "2.0.0", "10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareVersions(ordered[i], ordered[j]); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if CompareVersions("1.0.0+build.1", "1.0.0+build.2") != 0 {
		t.Error("build metadata takes part in precedence")
	}
	if CompareVersions("not-a-version", "0.0.1") != -1 || CompareVersions("0.0.1", "v1") != 1 {
		t.Error("an invalid version does not come first")
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"0.0.0", true},
		{"1.2.3-rc.1+exp.sha.5114f85", true},
		{"1.0.0-x-y-z.--", true},
		{"v1.0.0", false},
		{"1.0", false},
		{"1.0.0.0", false},
		{"01.0.0", false},
		{"1.0.0-01", false},
		{"1.0.0-", false},
		{"1.0.0+", false},
		{"1.0.0-a..b", false},
		{"1.0.0-a_b", false},
		{"99999999999999999999.0.0", false},
	} {
		if _, err := parseVersion(tc.v); (err == nil) != tc.ok {
			t.Errorf("parseVersion(%q): err=%v, want ok=%v", tc.v, err, tc.ok)
		}
	}
}
