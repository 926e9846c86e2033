// n6-confd: renders Calico confd's own templates (copied by `npm run setup`
// from the pinned github.com/projectcalico/calico module) from a snapshot of
// confd's key/value store, with the same store (memkv) and TOML reader confd
// uses. Ours; see main.go for why it exists.
module native6/tools/confd

go 1.22

require (
	github.com/BurntSushi/toml v1.3.2
	github.com/kelseyhightower/memkv v0.1.1
)
