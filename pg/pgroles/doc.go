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

// Package pgroles provisions a Region's PostgreSQL roles, database and
// privileges: the owner role that runs migrations, the runtime role the app
// logs in as, the database they share, the schema's ownership and the runtime
// role's table and column privileges. It compares the catalog with what is wanted
// (contract.go, pure), then issues only the statements needed (postgres.go,
// statements.go), so a second run changes nothing.
//
// It never puts a plaintext password in SQL, a log line, an error or a
// reported action: passwords travel as SCRAM-SHA-256 verifiers computed here.
// It never grants the runtime role more than the table and column privileges
// it is given, nor TEMPORARY (a temporary table would come first in an
// unqualified name's search), and it does not create tables or touch tenant
// data.
package pgroles
