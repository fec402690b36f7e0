package validator

import (
	"encoding/json"
	"testing"
)

// fuzzSchema exercises most rule types: what a remote caller's params meet on a real action.
var fuzzSchema = MustCompile(Schema{
	"name":  Schema{"type": "string", "min": 2, "max": 20, "trim": true},
	"email": Schema{"type": "email", "optional": true},
	"age":   Schema{"type": "number", "integer": true, "positive": true, "convert": true, "optional": true},
	"tags":  Schema{"type": "array", "items": "string", "max": 5, "optional": true},
	"kind":  Schema{"type": "enum", "values": []any{"a", "b"}, "default": "a"},
	"when":  Schema{"type": "date", "convert": true, "optional": true},
	"ok":    Schema{"type": "boolean", "convert": true, "optional": true},
	"addr": Schema{"type": "object", "optional": true, "strict": "remove", "props": Schema{
		"city": "string", "zip": Schema{"type": "string", "pattern": `^[0-9]{5}$`},
	}},
	"any":      Schema{"type": "multi", "optional": true, "rules": []any{"number", "string"}},
	"$$strict": false,
})

// FuzzValidate: params from the wire (any JSON object) never panic the validator, and every
// failure names a field and a message.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ann","email":"a@b.co","age":"42","tags":["x"],"kind":"b","addr":{"city":"P","zip":"75001","x":1}}`,
		`{"name":" ","age":-1.5,"tags":[1,2,3,4,5,6],"kind":"c","when":"not a date","ok":"maybe","any":{}}`,
		`{}`,
		`{"name":null,"addr":[],"tags":{"a":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var params map[string]any
		if json.Unmarshal(data, &params) != nil || params == nil {
			return
		}
		for _, e := range fuzzSchema.Validate(params) {
			if e.Type == "" || e.Message == "" {
				t.Fatalf("a failure without a type or message: %+v", e)
			}
		}
	})
}

// FuzzCompile: any schema in JSON form compiles or is rejected with a *SchemaError, and a
// compiled one validates arbitrary params without panicking.
func FuzzCompile(f *testing.F) {
	for _, seed := range []struct{ schema, params string }{
		{`{"a":"string","b":{"type":"number","min":1},"c":{"type":"array","items":{"type":"object","props":{"d":"email"}}}}`, `{"a":"x","b":0,"c":[{"d":"no"}]}`},
		{`{"a":{"type":"multi","rules":["string",{"type":"number"}]},"$$strict":true}`, `{"a":true,"z":1}`},
		{`{"a":{"type":"nope"}}`, `{}`},
		{`{"a":"string|optional|min:3"}`, `{"a":"ab"}`},
	} {
		f.Add([]byte(seed.schema), []byte(seed.params))
	}
	f.Fuzz(func(t *testing.T, schema, data []byte) {
		var s Schema
		if json.Unmarshal(schema, &s) != nil || s == nil {
			return
		}
		v, err := Compile(s)
		if err != nil {
			if _, ok := err.(*SchemaError); !ok {
				t.Fatalf("not a *SchemaError: %T %v", err, err)
			}
			return
		}
		var params map[string]any
		if json.Unmarshal(data, &params) != nil || params == nil {
			params = map[string]any{}
		}
		_ = v.Validate(params)
	})
}
