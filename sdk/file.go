package sdk

import (
	"encoding/json"
	"os"
	"reflect"
)

// File is a file that a task reads or writes: the workflow type file. As
// an input, Path is a local file to read: the engine has fetched it if it
// lives in a bucket. As an output, set Path to a file the task wrote in
// its working directory or in a [ExecutionParams.RandomLocalDir]
// directory, absolute or relative to the working directory; the engine
// moves it into the run's data store and hands tasks downstream a path to
// it. A path anywhere else, or a symbolic link out of those directories,
// fails the task. An output may also be a URI (s3://, gs://, azblob://)
// of data the task stored itself.
//
// A File crosses the wire as a JSON string: its Path.
type File struct {
	Path string
}

// Dir is a directory that a task reads or writes: the workflow type dir.
// It works as [File] does, for a whole directory. Symbolic links inside
// an output directory must stay inside the directories a File may come
// from; files other than regular files and directories are not stored.
type Dir struct {
	Path string
}

// MarshalJSON writes the path as a JSON string.
func (f File) MarshalJSON() ([]byte, error) { return json.Marshal(f.Path) }

// UnmarshalJSON reads a JSON string.
func (f *File) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &f.Path) }

// Open opens the file for reading.
func (f File) Open() (*os.File, error) { return os.Open(f.Path) }

// MarshalJSON writes the path as a JSON string.
func (d Dir) MarshalJSON() ([]byte, error) { return json.Marshal(d.Path) }

// UnmarshalJSON reads a JSON string.
func (d *Dir) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &d.Path) }

var (
	fileType = reflect.TypeFor[File]()
	dirType  = reflect.TypeFor[Dir]()
)
