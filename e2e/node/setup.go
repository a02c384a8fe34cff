/*
Copyright 2026 The Rekomi Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// cniBinDir is where Debian's containernetworking-plugins installs the
// plugins.
const cniBinDir = "/usr/lib/cni"

// apiServerPort is the API server's port on NodeIP.
const apiServerPort = "6443"

// setup is the cluster's files: certificates, kubeconfigs and the
// components' configuration, under dir.
type setup struct {
	dir   string
	pki   *authority
	certs map[string]certPair
	sa    certPair
}

// path is a file of the cluster under its directory.
func (s *setup) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// writeSetup writes the certificates, kubeconfigs and configuration files
// and points c at the admin's kubeconfig.
func (c *Cluster) writeSetup(opts Options) (*setup, error) {
	s := &setup{dir: opts.Dir, certs: map[string]certPair{}}
	for _, d := range []string{"pki", "logs", "kubeconfig", "etcd", "kubelet", "pod-logs", "volume-plugins", "cni", "cni-ipam", "containerd/hosts/_default"} {
		if err := os.MkdirAll(s.path(d), 0o700); err != nil {
			return nil, err
		}
	}
	var err error
	if s.pki, err = newAuthority(s.path("pki")); err != nil {
		return nil, err
	}
	nodeIP := net.ParseIP(NodeIP)
	ids := map[string]identity{
		"apiserver": {CommonName: "kube-apiserver", Server: true, IPs: []net.IP{nodeIP, net.ParseIP(KubernetesServiceIP)},
			DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc"}},
		"apiserver-kubelet-client": {CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		"admin":                    {CommonName: "rekomi-node-admin", Organization: []string{"system:masters"}},
		"controller-manager":       {CommonName: "system:kube-controller-manager"},
		"scheduler":                {CommonName: "system:kube-scheduler"},
		"kubelet":                  {CommonName: "system:node:" + NodeIP, Organization: []string{"system:nodes"}},
		"kubelet-serving":          {CommonName: NodeIP, Server: true, IPs: []net.IP{nodeIP}},
		"kube-proxy":               {CommonName: "system:kube-proxy"},
	}
	for name, id := range ids {
		if s.certs[name], err = s.pki.issue(name, id); err != nil {
			return nil, err
		}
	}
	if s.sa, err = s.pki.serviceAccountKey(); err != nil {
		return nil, err
	}
	server := "https://" + net.JoinHostPort(NodeIP, apiServerPort)
	for _, name := range []string{"admin", "controller-manager", "scheduler", "kubelet", "kube-proxy"} {
		if err := writeKubeconfig(s.kubeconfig(name), server, s.pki.path("ca.crt"), s.certs[name]); err != nil {
			return nil, fmt.Errorf("writing the kubeconfig of %s: %w", name, err)
		}
	}
	c.Kubeconfig = s.kubeconfig("admin")
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	files := map[string]string{
		s.path("kubelet", "config.yaml"):                  s.kubeletConfig(),
		s.path("cni", "10-rekomi.conflist"):               s.cniConfig(),
		s.path("containerd", "config.toml"):               s.containerdConfig(),
		s.path("containerd/hosts/_default", "hosts.toml"): noRegistry,
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *setup) kubeconfig(name string) string { return s.path("kubeconfig", name+".yaml") }

func (s *setup) etcdArgs() []string {
	client, peer := "http://"+net.JoinHostPort(loopbackIP, "2379"), "http://"+net.JoinHostPort(loopbackIP, "2380")
	return []string{
		"--name=node", "--data-dir=" + s.path("etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=node=" + peer,
		// The data is thrown away with the cluster.
		"--unsafe-no-fsync",
	}
}

func (s *setup) apiServerArgs() []string {
	return []string{
		"--etcd-servers=http://" + net.JoinHostPort(loopbackIP, "2379"),
		"--bind-address=" + NodeIP, "--advertise-address=" + NodeIP, "--secure-port=" + apiServerPort,
		"--tls-cert-file=" + s.certs["apiserver"].Cert, "--tls-private-key-file=" + s.certs["apiserver"].Key,
		"--client-ca-file=" + s.pki.path("ca.crt"),
		"--anonymous-auth=false",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=false",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + s.sa.Cert,
		"--service-account-signing-key-file=" + s.sa.Key,
		"--kubelet-client-certificate=" + s.certs["apiserver-kubelet-client"].Cert,
		"--kubelet-client-key=" + s.certs["apiserver-kubelet-client"].Key,
		"--kubelet-certificate-authority=" + s.pki.path("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		"--profiling=false",
		"--enable-priority-and-fairness=false",
	}
}

// controllers are the controllers a one-node cluster running Deployments
// behind Services needs.
var controllers = []string{
	"deployment-controller", "replicaset-controller", "garbage-collector-controller",
	"node-lifecycle-controller", "taint-eviction-controller", "pod-garbage-collector-controller",
	"serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"endpointslice-controller", "namespace-controller", "disruption-controller",
	"clusterrole-aggregation-controller", "service-cidr-controller",
}

func (s *setup) controllerManagerArgs() []string {
	return []string{
		"--kubeconfig=" + s.kubeconfig("controller-manager"),
		"--controllers=" + strings.Join(controllers, ","),
		"--use-service-account-credentials=true",
		"--root-ca-file=" + s.pki.path("ca.crt"),
		"--leader-elect=false",
		"--secure-port=0",
		"--profiling=false",
	}
}

func (s *setup) schedulerArgs() []string {
	return []string{
		"--kubeconfig=" + s.kubeconfig("scheduler"),
		"--leader-elect=false",
		"--secure-port=0",
		"--profiling=false",
	}
}

func (s *setup) kubeletArgs() []string {
	return []string{
		"--config=" + s.path("kubelet", "config.yaml"),
		"--kubeconfig=" + s.kubeconfig("kubelet"),
		"--root-dir=" + s.path("kubelet"),
		"--hostname-override=" + NodeIP,
		"--node-ip=" + NodeIP,
	}
}

func (s *setup) kubeProxyArgs() []string {
	return []string{
		"--kubeconfig=" + s.kubeconfig("kube-proxy"),
		"--proxy-mode=iptables",
		"--hostname-override=" + NodeIP,
		"--bind-address=" + NodeIP,
		"--cluster-cidr=" + PodCIDR,
		"--nodeport-addresses=primary",
		"--iptables-localhost-nodeports=false",
		"--healthz-bind-address=" + net.JoinHostPort(loopbackIP, "10256"),
		"--metrics-bind-address=" + net.JoinHostPort(loopbackIP, "10249"),
		// Leave the machine's connection tracking settings as they are.
		"--conntrack-max-per-core=0", "--conntrack-min=0",
		"--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		"--oom-score-adj=0",
		"--profiling=false",
	}
}

// kubeletConfig is the kubelet's configuration for this machine: cgroup
// v1 through cgroupfs under its own root, swap tolerated, no iptables
// chains, no host resolver for pods, and everything it writes under the
// cluster's directory.
func (s *setup) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[2]q}
authorization: {mode: Webhook}
tlsCertFile: %[3]q
tlsPrivateKeyFile: %[4]q
containerRuntimeEndpoint: unix://%[5]s
cgroupDriver: cgroupfs
cgroupRoot: /%[6]s
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
resolvConf: ""
podLogsDir: %[7]q
volumePluginDir: %[8]q
staticPodPath: ""
maxPods: 40
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`, NodeIP, s.pki.path("ca.crt"), s.certs["kubelet-serving"].Cert, s.certs["kubelet-serving"].Key,
		s.containerdSocket(), cgroupRoot, s.path("pod-logs"), s.path("volume-plugins"))
}

// cniConfig puts pods on the bridge with addresses from PodCIDR, the node
// their gateway; nothing is masqueraded, since nothing may leave.
func (s *setup) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "rekomi-node",
  "plugins": [{
    "type": "bridge",
    "bridge": %[1]q,
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": %[2]q,
      "ranges": [[{"subnet": %[3]q, "gateway": %[4]q}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
`, BridgeName, s.path("cni-ipam"), PodCIDR, NodeIP)
}

func (s *setup) containerdSocket() string { return s.path("containerd", "containerd.sock") }

// containerdConfig is containerd's configuration: its state under the
// cluster's directory (network namespaces too), the local pause image,
// oom_score_adj kept within what root may set here, and no plugin that
// writes outside the directory.
func (s *setup) containerdConfig() string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
disabled_plugins = ['io.containerd.internal.v1.opt', 'io.containerd.nri.v1.nri', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing']

[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[5]q
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = %[6]q

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [%[7]q]
    conf_dir = %[8]q
`, s.path("containerd", "root"), s.path("containerd", "state"), s.containerdSocket(), s.containerdSocket()+".ttrpc",
		PauseImage, s.path("containerd", "hosts"), cniBinDir, s.path("cni"))
}

// noRegistry sends every image pull to a closed port on loopback: the
// node runs only the images imported into it, and a missing one fails
// at once instead of resolving a registry's name.
const noRegistry = `server = "http://127.0.233.1:9"
`

// startContainerd starts the node's containerd.
func (c *Cluster) startContainerd(ctx context.Context, assets string, s *setup) (*Containerd, error) {
	env := append(os.Environ(), "PATH="+assets+string(os.PathListSeparator)+os.Getenv("PATH"))
	p, err := startProcess("containerd", s.path("logs"), env, filepath.Join(assets, "containerd"), "--config", s.path("containerd", "config.toml"))
	if err != nil {
		return nil, err
	}
	c.processes = append(c.processes, p)
	ctrd := &Containerd{assets: assets, socket: s.containerdSocket()}
	return ctrd, c.poll(ctx, time.Minute, func(ctx context.Context) error {
		_, err := ctrd.ctr(ctx, "version")
		return err
	})
}
