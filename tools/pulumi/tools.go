//go:build tools

// The Pulumi CLI, built by `npm run setup` (lib/toolchain/pulumi.ts) from its
// published module at the version go.mod requires:
//   go build -ldflags "-X .../version.Version=v3.274.1" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
// This file only keeps the requirement in go.mod (go mod tidy).
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
