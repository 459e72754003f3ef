package rules

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ConfigError is a configuration field with a bad value, as the packages'
// Validate methods report it (it lives here, as the types the packages
// share do). Field is the field's path in the package's config struct
// ("Topics.Orders", "Durability.Replicas"); the message may name other
// fields, given as ConfigField arguments. Error names the fields by their
// paths; a command names them as its operator knows them, by their flags,
// with Text.
type ConfigError struct {
	Field  string
	format string
	args   []any
}

// ConfigField names a configuration field among a ConfigError's arguments.
type ConfigField string

// Error is the message with the fields named by their paths.
func (e *ConfigError) Error() string {
	return e.Text(func(field string) string { return field })
}

// Text is the message with e.Field and every ConfigField argument named
// by name.
func (e *ConfigError) Text(name func(field string) string) string {
	args := slices.Clone(e.args)
	for i, a := range args {
		if f, ok := a.(ConfigField); ok {
			args[i] = name(string(f))
		}
	}
	return name(e.Field) + ": " + fmt.Sprintf(e.format, args...)
}

// ConfigErrors collects what is wrong with a configuration, field by field.
// The zero value is ready to use.
type ConfigErrors struct {
	errs []error
}

// Add reports field with the message format and args (fmt.Sprintf's), in
// which a ConfigField argument names another field.
func (f *ConfigErrors) Add(field, format string, args ...any) {
	f.errs = append(f.errs, &ConfigError{Field: field, format: format, args: args})
}

// Positive reports field unless d is positive.
func (f *ConfigErrors) Positive(field string, d time.Duration) {
	if d <= 0 {
		f.Add(field, "%v: must be positive", d)
	}
}

// Err joins what was reported (errors.Join): nil if nothing was.
func (f *ConfigErrors) Err() error {
	return errors.Join(f.errs...)
}
