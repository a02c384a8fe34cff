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

package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers"
)

// managerOptions are the flags of `rekomi manager`.
type managerOptions struct {
	metricsAddr   string
	metricsSecure bool
	probeAddr     string
	leaderElect   bool
	resync        time.Duration
	concurrency   int
	appImage      string
	// operatorNamespace is the namespace the manager runs in, where Regions
	// may keep their admin Secrets.
	operatorNamespace string
	// restConfig reaches the API server; nil finds it from the kubeconfig
	// or the in-cluster config.
	restConfig *rest.Config
	// logOut receives the manager's logs; nil is standard error.
	logOut io.Writer
	// restartable lets one process run the manager more than once, which
	// otherwise refuses controller names it has seen (for rekomi dev tests).
	restartable bool
}

// runManager runs the operator until ctx is done.
func runManager(ctx context.Context, opts managerOptions) error {
	if opts.logOut != nil {
		ctrl.SetLogger(zap.New(zap.WriteTo(opts.logOut)))
	} else {
		ctrl.SetLogger(zap.New())
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := rekomiv1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg := opts.restConfig
	if cfg == nil {
		var err error
		if cfg, err = ctrl.GetConfig(); err != nil {
			return fmt.Errorf("finding the cluster: %w", err)
		}
	}
	// The cache holds only the Secrets labelled for the operator, any other
	// read by name when a spec names it, and only the audit witness
	// ConfigMaps.
	mgr, err := ctrl.NewManager(cfg, controllers.LimitSecretAccess(controllers.LimitConfigMapAccess(ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOptions(opts),
		HealthProbeBindAddress: opts.probeAddr,
		// The classic work queue: with controller-runtime's priority queue
		// (its default; v0.25.2 and v0.25.3 alike), an Organization whose
		// first reconcile failed as the manager started (its Region's
		// database on a new port) was not retried, in 3 of 4 restarts of
		// rekomi dev on kept data and in the first on v0.25.3; with this
		// queue, in none of 20.
		Controller: config.Controller{MaxConcurrentReconciles: opts.concurrency, SkipNameValidation: &opts.restartable,
			UsePriorityQueue: ptr.To(false)},
		LeaderElection:   opts.leaderElect,
		LeaderElectionID: "manager.rekomi.io",
	})))
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	// The pools to the region databases, shared by the controllers that write
	// tenant rows, live as long as the manager.
	dbs := controllers.NewRegionDatabases()
	defer dbs.Close()
	if err := (&controllers.RegionReconciler{
		Client:            mgr.GetClient(),
		Recorder:          mgr.GetEventRecorder("rekomi-region"),
		AppImage:          opts.appImage,
		ResyncPeriod:      opts.resync,
		Rand:              rand.Reader,
		OperatorNamespace: opts.operatorNamespace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the region controller: %w", err)
	}
	if err := (&controllers.OrganizationReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("rekomi-organization"),
		DBs:      dbs,
		Clock:    clock.RealClock{},
		Rand:     rand.Reader,

		OperatorNamespace: opts.operatorNamespace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the organization controller: %w", err)
	}
	// Witnesses change about once a minute per live organization; the app's
	// copy lags the kubelet's ConfigMap sync (about a minute) anyway, so
	// publishing a Region's shards at most every 10 s costs the freshness
	// nothing and spares a re-encoding at every organization's change.
	if err := (&controllers.WitnessPublishReconciler{Client: mgr.GetClient(), Interval: 10 * time.Second}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the audit witness publisher: %w", err)
	}
	if err := (&controllers.WebhookEndpointReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("rekomi-webhookendpoint"),
		DBs:          dbs,
		ResyncPeriod: opts.resync,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the webhook endpoint controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// metricsOptions serves metrics over HTTPS with Kubernetes authentication
// and authorization, unless plain HTTP was asked for.
func metricsOptions(opts managerOptions) metricsserver.Options {
	if !opts.metricsSecure {
		return metricsserver.Options{BindAddress: opts.metricsAddr}
	}
	return metricsserver.Options{
		BindAddress:    opts.metricsAddr,
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
	}
}
