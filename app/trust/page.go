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

package trust

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
)

// files holds the page's template and style sheet.
//
//go:embed templates
var files embed.FS

// Page renders a Statement as the /trust HTML page, which runs no
// JavaScript and loads nothing but its style sheet (StyleSheet).
type Page struct {
	tmpl *template.Template
	css  []byte
}

// NewPage parses the page's template.
func NewPage() (*Page, error) {
	tmpl, err := template.ParseFS(files, "templates/trust.html")
	if err != nil {
		return nil, fmt.Errorf("parsing the trust page: %w", err)
	}
	css, err := files.ReadFile("templates/trust.css")
	if err != nil {
		return nil, fmt.Errorf("reading the trust page's style sheet: %w", err)
	}
	return &Page{tmpl: tmpl.Lookup("trust.html"), css: css}, nil
}

// Render writes s as HTML; publicKey is the base64 key its signed form
// verifies with, and cacheSeconds how old the page may be.
func (p *Page) Render(s Statement, publicKey string, cacheSeconds int) ([]byte, error) {
	var buf bytes.Buffer
	err := p.tmpl.Execute(&buf, struct {
		S            Statement
		PublicKey    string
		CacheSeconds int
	}{s, publicKey, cacheSeconds})
	if err != nil {
		return nil, fmt.Errorf("rendering the trust page: %w", err)
	}
	return buf.Bytes(), nil
}

// StyleSheet is the page's style sheet, served at /trust.css.
func (p *Page) StyleSheet() []byte { return p.css }
