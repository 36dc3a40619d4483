package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goflyte/goflyte/sdk"
)

// Tasks on files and directories: a task writes into its working
// directory (or a RandomLocalDir) and returns the path; the engine stores
// it and gives tasks downstream a local path.

type writeIn struct {
	Text string `json:"text" desc:"What to write."`
	Name string `json:"name,omitempty" desc:"The file's name (default text.txt)."`
}

type fileOut struct {
	File sdk.File `json:"file" desc:"The file written."`
}

func write(ctx context.Context, in writeIn) (fileOut, error) {
	name := in.Name
	if name == "" {
		name = "text.txt"
	}
	if filepath.Base(name) != name {
		return fileOut{}, sdk.AttrError("name", "Not a file name", "name must be a plain file name, without a directory.")
	}
	path := filepath.Join(sdk.Params(ctx).WorkingDirectory, name)
	if err := os.WriteFile(path, []byte(in.Text), 0o600); err != nil {
		return fileOut{}, err
	}
	return fileOut{File: sdk.File{Path: name}}, nil // relative to the working directory
}

type fileIn struct {
	File sdk.File `json:"file" desc:"The file to read."`
}

func upperFile(ctx context.Context, in fileIn) (fileOut, error) {
	data, err := os.ReadFile(in.File.Path)
	if err != nil {
		return fileOut{}, err
	}
	out := filepath.Join(sdk.Params(ctx).WorkingDirectory, "upper-"+filepath.Base(in.File.Path))
	if err := os.WriteFile(out, []byte(strings.ToUpper(string(data))), 0o600); err != nil {
		return fileOut{}, err
	}
	return fileOut{File: sdk.File{Path: out}}, nil
}

type readOut struct {
	Text  string `json:"text" desc:"The file's contents."`
	Bytes int    `json:"bytes" desc:"Its size in bytes."`
}

func read(_ context.Context, in fileIn) (readOut, error) {
	data, err := os.ReadFile(in.File.Path)
	if err != nil {
		return readOut{}, err
	}
	return readOut{Text: string(data), Bytes: len(data)}, nil
}

type dirOut struct {
	Dir   sdk.Dir `json:"dir" desc:"A directory with one file per line, 0001.txt, 0002.txt, ..."`
	Files int     `json:"files" desc:"How many files it holds."`
}

func splitLines(ctx context.Context, in fileIn) (dirOut, error) {
	f, err := in.File.Open()
	if err != nil {
		return dirOut{}, err
	}
	defer f.Close()
	dir, err := sdk.Params(ctx).RandomLocalDir()
	if err != nil {
		return dirOut{}, err
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.txt", n)), []byte(sc.Text()+"\n"), 0o600); err != nil {
			return dirOut{}, err
		}
	}
	if err := sc.Err(); err != nil {
		return dirOut{}, err
	}
	return dirOut{Dir: sdk.Dir{Path: dir}, Files: n}, nil
}

type dirIn struct {
	Dir sdk.Dir `json:"dir" desc:"The directory whose files to read."`
}

type catOut struct {
	Text  string `json:"text" desc:"The directory's files, concatenated in order of name."`
	Files int    `json:"files" desc:"How many files it read."`
}

func cat(_ context.Context, in dirIn) (catOut, error) {
	entries, err := os.ReadDir(in.Dir.Path)
	if err != nil {
		return catOut{}, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var b strings.Builder
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(in.Dir.Path, e.Name()))
		if err != nil {
			return catOut{}, err
		}
		b.Write(data)
		n++
	}
	return catOut{Text: b.String(), Files: n}, nil
}
