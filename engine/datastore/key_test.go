package datastore

import (
	"errors"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"file", "out.csv", true},
		{"nested", "run-1/task/out.csv", true},
		{"dots inside names", "a..b/.hidden/x.", true},
		{"unicode", "données/été.txt", true},
		{"spaces", "my dir/my file", true},
		{"empty", "", false},
		{"absolute", "/etc/passwd", false},
		{"dotdot", "../x", false},
		{"dotdot inside", "a/../../x", false},
		{"dotdot alone", "..", false},
		{"dot segment", "a/./b", false},
		{"double slash", "a//b", false},
		{"trailing slash", "a/b/", false},
		{"backslash", `a\b`, false},
		{"windows dotdot", `..\x`, false},
		{"nul", "a\x00b", false},
		{"newline", "a\nb", false},
		{"del", "a\x7fb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			why := checkKey(tc.key)
			if ok := why == ""; ok != tc.ok {
				t.Errorf("checkKey(%q) = %q, want ok=%v", tc.key, why, tc.ok)
			}
		})
	}
}

func TestParseLocation(t *testing.T) {
	abs, err := filepath.Abs("rel/dir")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want location
		uri  string
	}{
		{"local path", "/tmp/store", location{scheme: "file", path: "/tmp/store"}, "file:///tmp/store"},
		{"relative path", "rel/dir", location{scheme: "file", path: abs}, "file://" + filepath.ToSlash(abs)},
		{"file uri", "file:///tmp/store/", location{scheme: "file", path: "/tmp/store"}, "file:///tmp/store"},
		{"file localhost", "file://localhost/tmp/x", location{scheme: "file", path: "/tmp/x"}, "file:///tmp/x"},
		{"file dot", "file://./rel/dir", location{scheme: "file", path: abs}, "file://" + filepath.ToSlash(abs)},
		{"s3 bucket", "s3://bkt", location{scheme: "s3", bucket: "bkt"}, "s3://bkt"},
		{"s3 prefix", "s3://bkt/a/b/", location{scheme: "s3", bucket: "bkt", key: "a/b"}, "s3://bkt/a/b"},
		{"s3 query sorted", "s3://bkt/k?region=eu-west-1&endpoint=http://127.0.0.1:9000",
			location{scheme: "s3", bucket: "bkt", key: "k", query: url.Values{"region": {"eu-west-1"}, "endpoint": {"http://127.0.0.1:9000"}}},
			"s3://bkt/k?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1"},
		{"gs", "gs://bkt/p", location{scheme: "gs", bucket: "bkt", key: "p"}, "gs://bkt/p"},
		{"azblob", "azblob://ctr/p/q", location{scheme: "azblob", bucket: "ctr", key: "p/q"}, "azblob://ctr/p/q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLocation(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(location{})); diff != "" {
				t.Errorf("parseLocation(%q) (-want +got):\n%s", tc.in, diff)
			}
			if s := got.String(); s != tc.uri {
				t.Errorf("String() = %q, want %q", s, tc.uri)
			}
			again, err := parseLocation(got.String())
			if err != nil || again.String() != got.String() {
				t.Errorf("String() does not round-trip: %q, %v", again.String(), err)
			}
		})
	}
}

func TestParseLocationErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"ftp://host/x",
		"s3://",
		"s3:///key",
		"s3://bkt/a/../b",
		"s3://bkt/a//b",
		"s3://key:secret@bkt/x",
		"s3://bkt/x?region=a&region=b",
		"file://otherhost/x",
		"file:///x?create_dir=1",
		"gs://bkt/x#frag",
	} {
		if loc, err := parseLocation(in); err == nil {
			t.Errorf("parseLocation(%q) = %+v, want error", in, loc)
		}
	}
}

func TestS3Settings(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		uri  string
		aws  AWSOptions
		want s3Settings
	}{
		{"aws defaults", "s3://b", AWSOptions{}, s3Settings{}},
		{"endpoint implies path style", "s3://b", AWSOptions{Endpoint: "http://127.0.0.1:7070"},
			s3Settings{endpoint: "http://127.0.0.1:7070", pathStyle: &yes}},
		{"virtual with endpoint", "s3://b", AWSOptions{Endpoint: "https://s3.example", AddressingStyle: "virtual"},
			s3Settings{endpoint: "https://s3.example", pathStyle: &no}},
		{"auto with endpoint", "s3://b", AWSOptions{Endpoint: "https://s3.example", AddressingStyle: "auto"},
			s3Settings{endpoint: "https://s3.example"}},
		{"path without endpoint", "s3://b", AWSOptions{AddressingStyle: "path", Region: "eu-west-1"},
			s3Settings{region: "eu-west-1", pathStyle: &yes}},
		{"query wins", "s3://b?region=us-west-2&use_path_style=false&endpoint=minio:9000&disable_https=true",
			AWSOptions{Region: "eu-west-1", Endpoint: "http://ignored"},
			s3Settings{region: "us-west-2", endpoint: "http://minio:9000", pathStyle: &no, disableHTTPS: true}},
		{"legacy path style and profile", "s3://b?s3ForcePathStyle=true&profile=dev&anonymous=true", AWSOptions{},
			s3Settings{profile: "dev", pathStyle: &yes, anonymous: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := parseLocation(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s3SettingsFor(loc, tc.aws)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(s3Settings{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []struct {
		uri string
		aws AWSOptions
	}{
		{"s3://b?ssetype=AES256", AWSOptions{}},
		{"s3://b?use_path_style=maybe", AWSOptions{}},
		{"s3://b", AWSOptions{AddressingStyle: "sideways"}},
	} {
		loc, err := parseLocation(bad.uri)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s3SettingsFor(loc, bad.aws); err == nil {
			t.Errorf("s3SettingsFor(%q, %+v) succeeded, want error", bad.uri, bad.aws)
		}
	}
}

func TestGCSAndAzureURLs(t *testing.T) {
	for uri, want := range map[string]bool{"gs://b/p": false, "gs://b/p?anonymous=true": true} {
		loc, _ := parseLocation(uri)
		if got, err := gcsAnonymous(loc); err != nil || got != want {
			t.Errorf("gcsAnonymous(%q) = %v, %v; want %v", uri, got, err, want)
		}
	}
	loc, _ := parseLocation("gs://b/p?access_id=x")
	if _, err := gcsAnonymous(loc); err == nil {
		t.Error("gcsAnonymous accepted an unknown parameter")
	}

	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGEBLOB_CONNECTIONSTRING", "")
	t.Setenv("AZURE_STORAGE_DOMAIN", "")
	t.Setenv("AZURE_STORAGE_PROTOCOL", "")
	t.Setenv("AZURE_STORAGE_IS_LOCAL_EMULATOR", "")
	t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
	tests := []struct {
		uri  string
		opts AzureOptions
		want string
	}{
		{"azblob://c/p", AzureOptions{StorageAccountName: "acct"}, "https://acct.blob.core.windows.net"},
		{"azblob://c?storage_account=other&domain=blob.core.usgovcloudapi.net", AzureOptions{StorageAccountName: "acct"}, "https://other.blob.core.usgovcloudapi.net"},
		{"azblob://c?localemu=true&domain=127.0.0.1:10000&protocol=http", AzureOptions{StorageAccountName: "devstoreaccount1"}, "http://127.0.0.1:10000/devstoreaccount1"},
	}
	for _, tc := range tests {
		loc, _ := parseLocation(tc.uri)
		got, err := azureServiceURL(loc, tc.opts)
		if err != nil || string(got) != tc.want {
			t.Errorf("azureServiceURL(%q) = %q, %v; want %q", tc.uri, got, err, tc.want)
		}
	}
	loc, _ = parseLocation("azblob://c/p")
	if _, err := azureServiceURL(loc, AzureOptions{}); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("azureServiceURL without an account: %v, want ErrNoCredentials", err)
	}
}
