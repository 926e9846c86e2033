// Command n6-confd renders Calico confd's own BIRD templates.
//
// Why it exists: calico-node (and with it confd) cannot be built here — its
// module requires github.com/projectcalico/api, which the Go module proxy
// does not serve at any version (see the README, "Calico in the lab"). The
// closest honest substitute for confd is to keep confd's inputs and outputs
// exactly: Calico's own template resources (conf.d/*.toml and
// templates/*.template from the pinned calico module, copied by `npm run
// setup`), confd's key/value store (github.com/kelseyhightower/memkv, the
// same store confd uses), confd's template functions and confd's
// stage/check/sync/reload steps. What is ours is the store's content: the
// node agent computes confd's keys from the Kubernetes datastore and hands
// them over as a JSON snapshot (-kv).
//
// One run processes every template resource once (confd's -onetime):
//
//	n6-confd -confdir DIR -kv FILE [-only bird6] [-noop]
//
// NODENAME comes from the environment, as for confd. It prints one line per
// resource: "<toml> unchanged|updated|failed: …" and exits 1 if any failed.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/kelseyhightower/memkv"
)

// resource is one conf.d/*.toml, as confd reads it.
type resource struct {
	Template struct {
		Src       string   `toml:"src"`
		Dest      string   `toml:"dest"`
		Prefix    string   `toml:"prefix"`
		Keys      []string `toml:"keys"`
		Mode      string   `toml:"mode"`
		CheckCmd  string   `toml:"check_cmd"`
		ReloadCmd string   `toml:"reload_cmd"`
	} `toml:"template"`
}

func main() {
	confdir := flag.String("confdir", "", "folder with conf.d/ and templates/ (Calico's confd resources)")
	kvFile := flag.String("kv", "", "JSON object: confd key (e.g. /calico/bgp/v1/global/as_num) -> value")
	only := flag.String("only", "", "comma-separated resource name prefixes to process (e.g. bird6); default all")
	noop := flag.Bool("noop", false, "render and check, but do not replace destinations or reload")
	destRoot := flag.String("dest-root", "/", "prefix for every destination path (tests)")
	flag.Parse()
	if *confdir == "" || *kvFile == "" {
		fmt.Fprintln(os.Stderr, "usage: n6-confd -confdir DIR -kv FILE [-only bird6] [-noop] [-dest-root DIR]")
		os.Exit(2)
	}
	node := os.Getenv("NODENAME")
	if node == "" {
		fmt.Fprintln(os.Stderr, "n6-confd: NODENAME is not set (confd needs the node's name)")
		os.Exit(2)
	}
	raw, err := os.ReadFile(*kvFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "n6-confd: %v\n", err)
		os.Exit(2)
	}
	kv := map[string]string{}
	if err := json.Unmarshal(raw, &kv); err != nil {
		fmt.Fprintf(os.Stderr, "n6-confd: %s: not a JSON object of strings: %v\n", *kvFile, err)
		os.Exit(2)
	}
	names, err := filepath.Glob(filepath.Join(*confdir, "conf.d", "*.toml"))
	if err != nil || len(names) == 0 {
		fmt.Fprintf(os.Stderr, "n6-confd: no template resources in %s/conf.d (run npm run setup)\n", *confdir)
		os.Exit(2)
	}
	sort.Strings(names)
	var prefixes []string
	if *only != "" {
		prefixes = strings.Split(*only, ",")
	}
	var todo []string
	for _, n := range names {
		if selected(filepath.Base(n), prefixes) {
			todo = append(todo, n)
		}
	}
	// bird6.cfg includes bird6_aggr.cfg and bird6_ipam.cfg, so its check
	// fails until they exist: like confd's next interval, retry what failed
	// once the others are in place.
	failed := 0
	var pending []string
	for pass := 0; pass < 2; pass++ {
		pending = pending[:0]
		for _, n := range todo {
			status, err := process(n, *confdir, *destRoot, node, kv, *noop)
			if err != nil {
				if pass == 0 {
					pending = append(pending, n)
					continue
				}
				fmt.Printf("%s failed: %v\n", filepath.Base(n), err)
				failed++
				continue
			}
			fmt.Printf("%s %s\n", filepath.Base(n), status)
		}
		todo = append([]string(nil), pending...)
		if len(todo) == 0 {
			break
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func selected(name string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(name, p+".") || strings.HasPrefix(name, p+"_") {
			return true
		}
	}
	return false
}

func process(tomlPath, confdir, destRoot, node string, kv map[string]string, noop bool) (string, error) {
	var r resource
	if _, err := toml.DecodeFile(tomlPath, &r); err != nil {
		return "", fmt.Errorf("cannot read %s: %w", tomlPath, err)
	}
	t := r.Template
	if t.Src == "" || t.Dest == "" {
		return "", fmt.Errorf("%s: src and dest are required", tomlPath)
	}
	// confd: the prefix gets a leading slash and NODENAME, each key the prefix and NODENAME.
	prefix := t.Prefix
	if !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	prefix = strings.Replace(prefix, "//NODENAME", "/"+node, 1)
	expanded := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		expanded[i] = path.Join(prefix, strings.Replace(k, "//NODENAME", "/"+node, 1))
	}
	store := memkv.New()
	for k, v := range kv {
		for _, e := range expanded {
			if strings.HasPrefix(k, e) {
				store.Set(path.Join("/", strings.TrimPrefix(k, prefix)), v)
				break
			}
		}
	}
	funcs := funcMap()
	for name, fn := range store.FuncMap {
		funcs[name] = fn
	}
	src := filepath.Join(confdir, "templates", t.Src)
	tmpl, err := template.New(filepath.Base(src)).Funcs(funcs).ParseFiles(src)
	if err != nil {
		return "", fmt.Errorf("unable to process template %s: %w", src, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, nil); err != nil {
		return "", err
	}
	dest := filepath.Join(destRoot, t.Dest)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	if old, err := os.ReadFile(dest); err == nil && bytes.Equal(old, out.Bytes()) {
		return "unchanged", nil
	}
	stage, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest))
	if err != nil {
		return "", err
	}
	defer os.Remove(stage.Name())
	if _, err := stage.Write(out.Bytes()); err != nil {
		stage.Close()
		return "", err
	}
	if err := stage.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(stage.Name(), 0o644); err != nil {
		return "", err
	}
	if t.CheckCmd != "" {
		var cmd bytes.Buffer
		ct, err := template.New("checkcmd").Parse(t.CheckCmd)
		if err != nil {
			return "", err
		}
		if err := ct.Execute(&cmd, map[string]string{"src": stage.Name()}); err != nil {
			return "", err
		}
		if o, err := exec.Command("/bin/sh", "-c", cmd.String()).CombinedOutput(); err != nil {
			return "", fmt.Errorf("config check %q failed: %v: %s", cmd.String(), err, strings.TrimSpace(string(o)))
		}
	}
	if noop {
		return "would update", nil
	}
	if err := os.Rename(stage.Name(), dest); err != nil {
		return "", err
	}
	if t.ReloadCmd != "" {
		if o, err := exec.Command("/bin/sh", "-c", t.ReloadCmd).CombinedOutput(); err != nil {
			return "", fmt.Errorf("reload %q failed: %v: %s", t.ReloadCmd, err, strings.TrimSpace(string(o)))
		}
	}
	return "updated", nil
}

// funcMap is confd's template function map (Calico v3.28's
// confd/pkg/resource/template newFuncMap), minus the DNS lookups, which
// Calico's templates do not use and which a lab must not make.
func funcMap() map[string]interface{} {
	return map[string]interface{}{
		"base":      path.Base,
		"split":     strings.Split,
		"json":      unmarshalObject,
		"jsonArray": unmarshalArray,
		"dir":       path.Dir,
		"map":       createMap,
		"getenv":    getenv,
		"join":      strings.Join,
		"datetime":  time.Now,
		"toUpper":   strings.ToUpper,
		"toLower":   strings.ToLower,
		"contains":  strings.Contains,
		"replace":   strings.Replace,
		"hasSuffix": strings.HasSuffix,
		"fileExists": func(p string) bool {
			_, err := os.Stat(p)
			return err == nil
		},
		"base64Encode":          func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64Decode":          func(s string) (string, error) { b, err := base64.StdEncoding.DecodeString(s); return string(b), err },
		"hashToIPv4":            hashToIPv4,
		"bgpFilterFunctionName": bgpFilterFunctionName,
		"bgpFilterBIRDFuncs":    bgpFilterBIRDFuncs,
	}
}

func getenv(key string, def ...string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	if len(def) > 0 {
		return def[0]
	}
	return ""
}

func unmarshalObject(data string) (map[string]interface{}, error) {
	var m map[string]interface{}
	err := json.Unmarshal([]byte(data), &m)
	return m, err
}

func unmarshalArray(data string) ([]interface{}, error) {
	var a []interface{}
	err := json.Unmarshal([]byte(data), &a)
	return a, err
}

func createMap(values ...interface{}) (map[string]interface{}, error) {
	if len(values)%2 != 0 {
		return nil, errors.New("map: odd number of arguments")
	}
	m := make(map[string]interface{}, len(values)/2)
	for i := 0; i < len(values); i += 2 {
		k, ok := values[i].(string)
		if !ok {
			return nil, errors.New("map: keys must be strings")
		}
		m[k] = values[i+1]
	}
	return m, nil
}

// hashToIPv4 is confd's router ID for CALICO_ROUTER_ID=hash: the first four
// bytes of SHA-256(node name), the first lowered by 32 when above 223 (BGP
// refuses class D/E router IDs).
func hashToIPv4(node string) string {
	h := sha256.Sum256([]byte(node))
	first := int(h[0])
	if first > 223 {
		first -= 32
	}
	return strconv.Itoa(first) + "." + strconv.Itoa(int(h[1])) + "." + strconv.Itoa(int(h[2])) + "." + strconv.Itoa(int(h[3]))
}

var errFilters = errors.New("BGPFilter resources are not supported by n6-confd (native6 renders none); remove them or run Calico's own confd")

// bgpFilterBIRDFuncs: with no BGPFilter resources confd emits no filter
// functions; translating BGPFilters is confd code this substitute does not
// have, so it refuses them rather than ignore them.
func bgpFilterBIRDFuncs(pairs memkv.KVPairs, version int) ([]string, error) {
	if version != 4 && version != 6 {
		return nil, errors.New("version must be either 4 or 6")
	}
	if len(pairs) > 0 {
		return nil, errFilters
	}
	// confd's output when no filter has rules for this version.
	return []string{fmt.Sprintf("# No v%d BGPFilters configured", version)}, nil
}

func bgpFilterFunctionName(filter, direction, version string) (string, error) {
	return "", errFilters
}
