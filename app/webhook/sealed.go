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

package webhook

import "github.com/google/uuid"

// SecretsAAD is the associated data that binds an endpoint's sealed signing
// secrets to its row: the operator seals them with it and the app opens
// them with it, so secrets copied to another endpoint's row do not open.
func SecretsAAD(endpointID uuid.UUID) []byte {
	return []byte("webhook_endpoint:" + endpointID.String())
}
