package cache

import (
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stamp is what Get keeps of an entry file's metadata: its modification
// time, and its identity, so that a corrupt entry is removed only if it
// is still the same file.
type stamp struct {
	mtime    time.Time
	dev, ino uint64
}

// same reports whether path is still the file s describes.
func (s stamp) same(path string) bool {
	var st syscall.Stat_t
	return syscall.Lstat(path, &st) == nil && uint64(st.Dev) == s.dev && uint64(st.Ino) == s.ino
}

// entryFile is an entry file open for Get, without an os.File: os.NewFile's
// own fstat, its cleanup and the FileInfo cost about a third of a hit, and
// a fully cached re-run of 10,000 tasks makes 10,000 hits (issue 17).
//
// A hit on an entry that fits in one read of firstRead bytes costs three
// system calls (open, read, close): the file is stat'ed only when Get
// needs its metadata (a corrupt entry, or one written an hour ago or more,
// whose modification time may be due for an update), or when the first
// read does not show the whole file (a larger entry, an empty file, an
// error such as reading a directory).
//
// It is a value (openEntry fills one on the caller's stack), and what
// read returns may be its pooled first-read buffer, which close gives
// back: a hit's only allocations are what its caller keeps (issue 17).
type entryFile struct {
	fd   int
	path string
	st   syscall.Stat_t
	// statted says st holds the file's fstat.
	statted bool
	// buf is the pooled buffer of the first read, held until close.
	buf *[]byte
}

// firstRead is the size of the first read of an entry: a task's entry
// with small outputs is a few hundred bytes.
const firstRead = 8 << 10

// readBufs are the buffers of first reads: what the entry takes is
// copied out at its exact size.
var readBufs = sync.Pool{New: func() any { b := make([]byte, firstRead); return &b }}

// openEntry opens the entry file at path, c's Path of a key, into f:
// relative to c's directory, kept open (rootDir), so that the kernel
// walks two names ("ab/<key>") instead of the directory's whole path.
// The open was half of a hit's cost in a fully cached re-run (issue 17).
func openEntry(c *Cache, path string, f *entryFile) error {
	rel := path[len(c.dir)+1:]
	retried := false
	for {
		d := c.root.get(c.dir)
		var fd int
		var err error
		if d != nil {
			fd, err = syscall.Openat(d.fd, rel, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		} else {
			fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		}
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.ENOENT && d != nil && !retried && d.gone() {
			// The directory was removed (and maybe made again) since it
			// was opened: open it again and look there.
			c.root.drop(d)
			retried = true
			continue
		}
		runtime.KeepAlive(d) // its fd stays open until here
		if err != nil {
			return &fs.PathError{Op: "open", Path: path, Err: err}
		}
		*f = entryFile{fd: fd, path: path}
		return nil
	}
}

// rootDir is a cache's directory, open for openEntry's openat. It is
// opened again when it was opened a second ago or more, and when a miss
// finds it removed (gone), so that a long-lived process (a worker) sees
// the directory that is at the cache's path now, not one removed or
// renamed since, within a second. A descriptor no longer in use is
// closed by a cleanup once no lookup holds it. The zero value is ready.
type rootDir struct {
	p atomic.Pointer[dirFD]
}

type dirFD struct {
	fd     int
	opened time.Time
}

// rootReopen is how long rootDir keeps a descriptor.
const rootReopen = time.Second

// get returns the directory dir open, or nil if it cannot be opened
// (then the caller opens the entry by its path).
func (r *rootDir) get(dir string) *dirFD {
	d := r.p.Load()
	if d != nil && time.Since(d.opened) < rootReopen {
		return d
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		r.p.CompareAndSwap(d, nil)
		return nil
	}
	nd := &dirFD{fd: fd, opened: time.Now()}
	runtime.AddCleanup(nd, func(fd int) { syscall.Close(fd) }, fd)
	r.p.CompareAndSwap(d, nd) // another lookup may have won: either is fine
	return nd
}

// drop forgets d, if it is still the open directory.
func (r *rootDir) drop(d *dirFD) { r.p.CompareAndSwap(d, nil) }

// gone reports whether d's directory was removed.
func (d *dirFD) gone() bool {
	var st syscall.Stat_t
	return syscall.Fstat(d.fd, &st) == nil && st.Nlink == 0
}

// close closes the file and gives the first read's buffer back: what
// read returned is not to be used after it.
func (f *entryFile) close() {
	syscall.Close(f.fd)
	if f.buf != nil {
		readBufs.Put(f.buf)
		f.buf = nil
	}
}

// stat fstats the file once.
func (f *entryFile) stat() error {
	if f.statted {
		return nil
	}
	for {
		err := syscall.Fstat(f.fd, &f.st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "stat", Path: f.path, Err: err}
		}
		f.statted = true
		return nil
	}
}

// regular stats the file and fails if it is not a regular file.
func (f *entryFile) regular() error {
	if err := f.stat(); err != nil {
		return err
	}
	if f.st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fmt.Errorf("not a regular file (mode %o)", f.st.Mode)
	}
	return nil
}

// read reads the whole file. A first read that returns fewer bytes than
// asked, but some, is the whole file (a regular file's read returns less
// only at its end; whole checks that before a corrupt entry is removed);
// otherwise the file is stat'ed and read as its size says, as before.
// What it returns is valid until close (it may be the pooled buffer of
// the first read): Get's callers copy out what they keep.
func (f *entryFile) read() ([]byte, error) {
	bp := readBufs.Get().(*[]byte)
	buf := *bp
	n, err := f.pread(buf, 0)
	if err == nil && n > 0 && n < len(buf) {
		f.buf = bp
		return buf[:n], nil
	}
	readBufs.Put(bp)
	if err := f.regular(); err != nil {
		return nil, err
	}
	return f.readAll()
}

// readAll reads the file from its start, as much as its size says (less
// if it shrank under us: verification reports it).
func (f *entryFile) readAll() ([]byte, error) {
	if err := f.stat(); err != nil {
		return nil, err
	}
	data := make([]byte, f.st.Size)
	n := 0
	for n < len(data) {
		m, err := f.pread(data[n:], int64(n))
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return data[:n], nil
}

// pread is one pread of buf at off.
func (f *entryFile) pread(buf []byte, off int64) (int, error) {
	for {
		m, err := syscall.Pread(f.fd, buf, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		return m, nil
	}
}

// whole returns the file's content again if data, which did not verify,
// may not be all of it (the file's size is not len(data)), or nil.
func (f *entryFile) whole(data []byte) ([]byte, error) {
	if err := f.regular(); err != nil {
		return nil, err
	}
	if f.st.Size == int64(len(data)) {
		return nil, nil
	}
	return f.readAll()
}

// stamp returns the file's metadata for get.
func (f *entryFile) stamp() (stamp, error) {
	if err := f.stat(); err != nil {
		return stamp{}, err
	}
	return stamp{mtime: time.Unix(int64(f.st.Mtim.Sec), int64(f.st.Mtim.Nsec)), dev: uint64(f.st.Dev), ino: uint64(f.st.Ino)}, nil
}
