package plugin

import "testing"

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"text", true},
		{"my-plugin_2", true},
		{"Upper", true},
		{"", false},
		{"2fast", false},
		{"-x", false},
		{"a.b", false},
		{"a/b", false},
		{"a b", false},
		{"héllo", false},
		{"../x", false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
