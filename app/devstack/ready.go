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

package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/controllers"
)

// readyTimeout bounds each wait for objects or apps to become ready.
const readyTimeout = 3 * time.Minute

// poll calls check until it reports done, ctx ends or readyTimeout passes;
// the last status check gave is in the error.
func poll(ctx context.Context, what string, check func(ctx context.Context) (bool, string)) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, status := check(ctx)
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %s", what, status)
		case <-tick.C:
		}
	}
}

// readyStatus says whether conds have Ready=True, and otherwise why not.
func readyStatus(conds []metav1.Condition) (bool, string) {
	c := meta.FindStatusCondition(conds, string(rekomiv1.ConditionReady))
	if c == nil {
		return false, "no Ready condition yet"
	}
	return c.Status == metav1.ConditionTrue, c.Reason + ": " + c.Message
}

// waitRegions marks each Region's app Deployment available, since no
// kubelet runs its pods here, and waits for the Region to be Ready.
func (s *Stack) waitRegions(ctx context.Context, regions []regionSample) error {
	for _, r := range regions {
		region := &rekomiv1.Region{}
		if err := s.Client.Get(ctx, types.NamespacedName{Name: r.name}, region); err != nil {
			return err
		}
		if err := s.markAppAvailable(ctx, region); err != nil {
			return err
		}
		err := poll(ctx, "Region "+r.name, func(ctx context.Context) (bool, string) {
			if err := s.Client.Get(ctx, types.NamespacedName{Name: r.name}, region); err != nil {
				return false, err.Error()
			}
			return readyStatus(region.Status.Conditions)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) markAppAvailable(ctx context.Context, region *rekomiv1.Region) error {
	dep := &appsv1.Deployment{}
	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: region.Name + "-app"}
	err := poll(ctx, "the app Deployment of "+region.Name, func(ctx context.Context) (bool, string) {
		err := s.Client.Get(ctx, key, dep)
		return err == nil, fmt.Sprint(err)
	})
	if err != nil {
		return err
	}
	n := int32(1)
	if dep.Spec.Replicas != nil {
		n = *dep.Spec.Replicas
	}
	dep.Status.Replicas, dep.Status.AvailableReplicas, dep.Status.ReadyReplicas, dep.Status.UpdatedReplicas = n, n, n, n
	dep.Status.Conditions = []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
		Message: "served in-process by rekomi dev", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	if err := s.Client.Status().Update(ctx, dep); err != nil {
		return fmt.Errorf("marking %s available: %w", key, err)
	}
	return nil
}

// startApps runs each Region's app in-process with the Region's runtime
// credentials and key ring, and waits until each answers /readyz.
func (s *Stack) startApps(ctx context.Context, opts Options, regions []regionSample) error {
	for _, r := range regions {
		cfg, trustPublic, err := s.appConfig(ctx, opts.Dir, r)
		if err != nil {
			return err
		}
		log, err := openLog(opts.Dir, "app-"+r.name)
		if err != nil {
			return err
		}
		s.stops = append(s.stops, func() { _ = log.Close() })
		metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("binding a localhost port for the metrics of region %s: %w", r.name, err)
		}
		s.stops = append(s.stops, func() { _ = metricsLn.Close() }) // should the app never take it
		cfg.MetricsAddress = metricsLn.Addr().String()
		s.goRun(ctx, "app of region "+r.name, func(ctx context.Context) error { return opts.RunApp(ctx, cfg, r.ln, metricsLn, log) })
		s.Apps = append(s.Apps, App{Region: r.name, URL: cfg.PublicBaseURL, MetricsURL: "http://" + cfg.MetricsAddress,
			TrustURL: cfg.PublicBaseURL + "/trust", TrustPublicKey: trustPublic})
	}
	for _, app := range s.Apps {
		if err := poll(ctx, "app of region "+app.Region, appReady(app.URL)); err != nil {
			return err
		}
	}
	return nil
}

// appConfig is the configuration the Region's Deployment gives its pods,
// with the key ring and the trust key written to files under dir and the audit witness
// shards mirrored under it, and the public half of the trust key.
func (s *Stack) appConfig(ctx context.Context, dir string, r regionSample) (config.Config, string, error) {
	region := &rekomiv1.Region{}
	if err := s.Client.Get(ctx, types.NamespacedName{Name: r.name}, region); err != nil {
		return config.Config{}, "", err
	}
	ns := region.Spec.Namespace
	runtimeURL, err := s.runtimeURL(ctx, ns, r)
	if err != nil {
		return config.Config{}, "", err
	}
	ring, err := s.secretValue(ctx, ns, controllers.KeyRingSecretName(r.name), keyring.SecretKey)
	if err != nil {
		return config.Config{}, "", err
	}
	ringFile := filepath.Join(dir, r.name+"-keyring.json")
	if err := os.WriteFile(ringFile, []byte(ring), 0o600); err != nil {
		return config.Config{}, "", fmt.Errorf("writing the key ring of region %s: %w", r.name, err)
	}
	trustKey, err := s.secretValue(ctx, ns, controllers.TrustKeySecretName(r.name), controllers.TrustKeySecretKey)
	if err != nil {
		return config.Config{}, "", err
	}
	key, err := trust.ParseKey([]byte(trustKey))
	if err != nil {
		return config.Config{}, "", fmt.Errorf("trust key of region %s: %w", r.name, err)
	}
	trustKeyFile := filepath.Join(dir, r.name+"-trust-key.pem")
	if err := os.WriteFile(trustKeyFile, []byte(trustKey), 0o600); err != nil {
		return config.Config{}, "", fmt.Errorf("writing the trust key of region %s: %w", r.name, err)
	}
	cfg := config.Defaults()
	cfg.ListenAddress = r.addr
	cfg.DatabaseURL = runtimeURL
	cfg.KeyRingFile = ringFile
	cfg.TrustKeyFile = trustKeyFile
	cfg.SecurityContact = region.Spec.App.SecurityContact
	cfg.RetentionGracePeriod = region.Spec.Retention.GracePeriod.Duration
	cfg.Region = r.name
	cfg.Location = string(region.Spec.Location)
	cfg.PublicBaseURL = region.Spec.App.PublicBaseURL
	if err := s.withAuditWitness(ctx, dir, region, &cfg); err != nil {
		return config.Config{}, "", err
	}
	return cfg, trust.PublicKeyString(key), nil
}

// runtimeURL waits for the runtime credentials to name this start's
// server: after a restart the server has a new port, which the operator
// writes into the Secret on its next reconcile.
func (s *Stack) runtimeURL(ctx context.Context, namespace string, r regionSample) (string, error) {
	var got string
	err := poll(ctx, "the runtime credentials of region "+r.name, func(ctx context.Context) (bool, string) {
		v, err := s.secretValue(ctx, namespace, controllers.RuntimeSecretName(r.name), "url")
		if err != nil {
			return false, err.Error()
		}
		u, err := url.Parse(v)
		if err != nil {
			return false, "the URL does not parse"
		}
		got = v
		return u.Host == r.dbHost, "they name server " + u.Host + ", not " + r.dbHost
	})
	return got, err
}

func (s *Stack) secretValue(ctx context.Context, namespace, name, key string) (string, error) {
	secret := &corev1.Secret{}
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret); err != nil {
		return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	}
	v, ok := secret.Data[key]
	if !ok {
		return "", fmt.Errorf("Secret %s/%s has no key %q", namespace, name, key)
	}
	return string(v), nil
}

func appReady(baseURL string) func(ctx context.Context) (bool, string) {
	return func(ctx context.Context) (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	}
}

// waitOrganizations waits for every Organization to be Ready, with its
// Stripe key stored when it names one, and reads its admin API key.
func (s *Stack) waitOrganizations(ctx context.Context) error {
	list := &rekomiv1.OrganizationList{}
	if err := s.Client.List(ctx, list); err != nil {
		return err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for _, org := range list.Items {
		if err := s.waitReady(ctx, "Organization "+org.Name, client.ObjectKeyFromObject(&org), &rekomiv1.Organization{}); err != nil {
			return err
		}
		if org.Spec.Stripe != nil {
			if err := s.waitStripeKey(ctx, &org); err != nil {
				return err
			}
		}
		region := &rekomiv1.Region{}
		if err := s.Client.Get(ctx, types.NamespacedName{Name: org.Spec.Region}, region); err != nil {
			return err
		}
		key, err := s.secretValue(ctx, region.Spec.Namespace, controllers.AdminKeySecretName(org.Name), controllers.AdminKeySecretKey)
		if err != nil {
			return err
		}
		s.Orgs = append(s.Orgs, Org{Name: org.Name, Region: org.Spec.Region, APIKey: key})
	}
	return nil
}

// waitWebhooks waits for every WebhookEndpoint to be Ready and reads its URL
// and the first signing secret of its Secret. It runs after
// waitOrganizations, which finds each organization's Region.
func (s *Stack) waitWebhooks(ctx context.Context) error {
	list := &rekomiv1.WebhookEndpointList{}
	if err := s.Client.List(ctx, list); err != nil {
		return err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for _, ep := range list.Items {
		got := &rekomiv1.WebhookEndpoint{}
		if err := s.waitReady(ctx, "WebhookEndpoint "+ep.Name, client.ObjectKeyFromObject(&ep), got); err != nil {
			return err
		}
		secret, err := s.firstSecretValue(ctx, ep.Namespace, ep.Spec.SecretRef.Name)
		if err != nil {
			return err
		}
		s.Webhooks = append(s.Webhooks, Webhook{Name: ep.Name, Organization: ep.Spec.Organization,
			Provider: string(ep.Spec.Provider), URL: s.webhookURL(got), Secret: secret})
	}
	return nil
}

// webhookURL is where the running app receives the endpoint's deliveries.
// It is the endpoint's published URL unless the app moved to another port
// since the operator last wrote it.
func (s *Stack) webhookURL(ep *rekomiv1.WebhookEndpoint) string {
	for _, o := range s.Orgs {
		for _, a := range s.Apps {
			if o.Name == ep.Spec.Organization && a.Region == o.Region {
				return a.URL + "/webhooks/" + string(ep.Spec.Provider) + "/" + ep.Status.EndpointID
			}
		}
	}
	return ep.Status.URL
}

func (s *Stack) firstSecretValue(ctx context.Context, namespace, name string) (string, error) {
	secret := &corev1.Secret{}
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret); err != nil {
		return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	}
	keys := make([]string, 0, len(secret.Data))
	for k := range secret.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "", fmt.Errorf("Secret %s/%s is empty", namespace, name)
	}
	return string(secret.Data[keys[0]]), nil
}

// waitReady polls obj under key until its Ready condition is True.
func (s *Stack) waitReady(ctx context.Context, what string, key client.ObjectKey, obj client.Object) error {
	return poll(ctx, what, func(ctx context.Context) (bool, string) {
		if err := s.Client.Get(ctx, key, obj); err != nil {
			return false, err.Error()
		}
		return readyStatus(conditionsOf(obj))
	})
}

func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *rekomiv1.Organization:
		return o.Status.Conditions
	case *rekomiv1.WebhookEndpoint:
		return o.Status.Conditions
	case *rekomiv1.Region:
		return o.Status.Conditions
	}
	return nil
}
