package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// oracleType is the struct encoding/json would read data into if the
// table's members were declared as Go fields: a pointer field per member,
// tagged with its name. It is built from the table, so every member is
// held to encoding/json's reading, including members added later.
var oracleType = func() reflect.Type {
	var fields []reflect.StructField
	for i, f := range wireFields {
		var t reflect.Type
		switch f.kind {
		case wireString:
			t = reflect.TypeFor[*string]()
		case wireInt:
			t = reflect.TypeFor[*int64]()
		case wireBool:
			t = reflect.TypeFor[*bool]()
		case wireStrings:
			t = reflect.TypeFor[*[]string]()
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: t, Tag: reflect.StructTag(`json:"` + f.name + `"`)})
	}
	return reflect.StructOf(fields)
}()

// checkWire decodes b as a data object both ways: with wireData, and with
// encoding/json into the oracle struct. They must agree on the error's
// presence and, without one, on every member.
func checkWire(t *testing.T, b []byte) {
	t.Helper()
	var w *wireData
	errW := json.Unmarshal(b, &w)
	if errW == nil && w != nil && w.err != nil {
		errW = w.err
	}
	o := reflect.New(oracleType)
	errO := json.Unmarshal(b, o.Interface())
	if (errW == nil) != (errO == nil) {
		// encoding/json refuses null into a struct pointer's target the
		// same way; a top-level null leaves both empty.
		t.Fatalf("%q: wireData error %v, encoding/json error %v", b, errW, errO)
	}
	if errO != nil {
		if _, syntax := errO.(*json.SyntaxError); !syntax {
			var fe *FieldError
			te, _ := errO.(*json.UnmarshalTypeError)
			if ok := asFieldError(errW, &fe); ok && te != nil && te.Field != "" && fe.Field != "data."+te.Field {
				t.Fatalf("%q: wireData blames %s, encoding/json %s", b, fe.Field, te.Field)
			}
		}
		return
	}
	for i, f := range wireFields {
		got, ok := wireValue{}, false
		if w != nil {
			got, ok = w.get(i)
		}
		fv := o.Elem().Field(i)
		if fv.IsNil() != !ok {
			t.Fatalf("%q: member %s present: wireData %v, encoding/json %v", b, f.name, ok, !fv.IsNil())
		}
		if !ok {
			continue
		}
		var want any
		switch f.kind {
		case wireString:
			want = got.s
		case wireInt:
			want = got.i
		case wireBool:
			want = got.b
		case wireStrings:
			want = got.ss
		}
		if !reflect.DeepEqual(fv.Elem().Interface(), want) {
			t.Fatalf("%q: member %s: wireData %#v, encoding/json %#v", b, f.name, want, fv.Elem().Interface())
		}
	}
}

func asFieldError(err error, fe **FieldError) bool {
	e, ok := err.(*FieldError)
	*fe = e
	return ok
}

var wireSeeds = []string{
	`{}`, `null`, `[]`, `5`, `"x"`,
	`{"amount":100,"AMOUNT":99999999}`,
	`{"Amount":1}`, `{"amount":null}`, `{"amount":1,"amount":null}`, `{"amount":1.5}`, `{"amount":"1"}`,
	`{"articles":["c2.a5",null]}`, `{"articles":[1]}`, `{"articles":null}`,
	`{"customer_id":"\u00e9\ud800","note":"a\\u0000b"}`, `{"agreed":true,"agreed":false}`,
	`{"cuſtomer_id":"long s folds to S"}`, `{"\u212aind":"the Kelvin sign folds to K"}`,
	`{"unknown":{"deep":[1,2,{"x":null}]},"by":"customer"}`,
	`{"by":1,"from":"x"}`,
}

func TestWireDataReadsAsEncodingJSON(t *testing.T) {
	for _, s := range wireSeeds {
		checkWire(t, []byte(s))
	}
}

func FuzzWireData(f *testing.F) {
	for _, s := range wireSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		checkWire(t, b)
	})
}
