package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// WriteJSON writes the report as JSON to file, or to stdout for "-".
func (rep *Report) WriteJSON(file string, stdout io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	b = append(b, '\n')
	if file == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return fmt.Errorf("bench: --json: %w", err)
	}
	return nil
}

// Read reads a report that --json wrote.
func Read(file string) (*Report, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("bench compare: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench compare: %s is not a bench report: %w", file, err)
	}
	return &r, nil
}
