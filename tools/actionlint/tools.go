//go:build tools

// actionlint, the linter of GitHub Actions workflows, built by `npm run setup`
// (lib/toolchain/actionlint.ts) from its published module at the version
// go.mod requires:
//   go build -ldflags "-X github.com/rhysd/actionlint.version=v1.7.12" github.com/rhysd/actionlint/cmd/actionlint
// This file only keeps the requirement in go.mod (go mod tidy).
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
