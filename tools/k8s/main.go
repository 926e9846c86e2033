// Command k8s is the Kubernetes control plane the lab runs, as one
// multi-call binary: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kube-proxy, kubeadm and kubectl share one build and one
// link. It runs the program named by the file it was started as
// (`.cache/bin/kube-apiserver` is a symlink to it), or by its first
// argument (`k8s kubectl get pods`).
//
// Every program is the upstream one: each entry below does what that
// program's own main does (cmd/<name>/<name>.go in k8s.io/kubernetes,
// server/main.go in etcd), and the blank imports are the union of theirs.
// etcd is the go.etcd.io/etcd/server/v3 version go.mod requires: one whose
// own requirements k8s.io/kubernetes' graph already meets, so that adding
// it moves no Kubernetes dependency but etcd's own modules. The version
// variables are set with -ldflags at build time (scripts/setup.ts), as
// upstream's hack/lib/version.sh does.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // CronJob time zones (kube-apiserver, kube-controller-manager)

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's auth plugins
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeadm "k8s.io/kubernetes/cmd/kubeadm/app"
	kubeadmerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"

	"go.etcd.io/etcd/server/v3/etcdmain"

	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
)

// programs maps a program name to its main. Each builds its command only
// when called: the constructors register flags and feature gates.
var programs = map[string]func(){
	"etcd": func() {
		etcdmain.Main(os.Args)
	},
	"kube-apiserver": func() {
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	},
	"kube-controller-manager": func() {
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	},
	"kube-scheduler": func() {
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	},
	"kube-proxy": func() {
		os.Exit(cli.Run(proxy.NewProxyCommand()))
	},
	"kubeadm": func() {
		kubeadmerrors.HandleError(kubeadm.Run())
	},
	"kubectl": func() {
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) //nolint:errcheck
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
	},
}

func names() string {
	out := make([]string, 0, len(programs))
	for n := range programs {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func main() {
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	prog, ok := programs[name]
	if !ok && len(os.Args) > 1 {
		// `k8s kube-apiserver --version`: drop our own name, so that the
		// program sees the argv it would have had as its own binary.
		if prog, ok = programs[os.Args[1]]; ok {
			os.Args = os.Args[1:]
		}
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: run me as (a link named) one of: %s\n", name, names())
		os.Exit(2)
	}
	prog()
}
