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

// Package e2e runs `rekomi dev` as its own process and uses what it starts
// only through public interfaces, as a newcomer would: the files it writes
// (stack.json, the kubeconfig), kubectl against its control plane, and HTTP
// against its apps (the merchant API, a referral link, signed Stripe
// webhooks, /metrics on its own port). The merchant's flow it runs is
// package e2e/flow's, which the test on a real cluster runs too; it
// imports nothing else of the module, so it tests the binary and its
// documented surface rather than the code behind them, and it checks that
// Ctrl-C leaves no process or listening port behind.
package e2e
