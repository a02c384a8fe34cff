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

package server

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rekomi/rekomi/app/audit"
)

// auditRowOpener returns the transform of an exported audit_log row: its
// sealed personal fields, opened with key (nil: the organization has
// none), shown as before they were sealed, the IP address and user agent
// in their columns and the rest in the metadata. The sealed columns stay
// as stored. A row whose fields do not open is left as it is.
func auditRowOpener(key *audit.OrgKey) func(row string) (string, error) {
	return func(row string) (string, error) {
		var cols map[string]json.RawMessage
		if err := json.Unmarshal([]byte(row), &cols); err != nil {
			return "", fmt.Errorf("decoding an audit entry: %w", err)
		}
		var sealedHex *string
		if err := json.Unmarshal(cols["personal"], &sealedHex); err != nil || sealedHex == nil || key == nil {
			return row, nil
		}
		sealed, err := hex.DecodeString(strings.TrimPrefix(*sealedHex, `\x`))
		if err != nil {
			return row, nil
		}
		e := audit.StoredEntry{Sealed: sealed, Metadata: cols["metadata"]}
		for name, dst := range map[string]*string{"action": &e.Action, "target_type": &e.Target.Type, "target_id": &e.Target.ID} {
			if err := json.Unmarshal(cols[name], dst); err != nil {
				return "", fmt.Errorf("decoding an audit entry's %s: %w", name, err)
			}
		}
		if err := e.Open(key); err != nil {
			return row, nil
		}
		for name, v := range map[string]any{"ip": e.IP, "user_agent": e.UserAgent, "metadata": e.Metadata} {
			if cols[name], err = json.Marshal(v); err != nil {
				return "", fmt.Errorf("encoding an audit entry's %s: %w", name, err)
			}
		}
		out, err := json.Marshal(cols)
		return string(out), err
	}
}
