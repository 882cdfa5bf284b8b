package trackfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchMask is keepalived's: a file written and closed, removed, or
// renamed into or out of the directory.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_MOVE

// Watcher reports changes of files in watched directories through
// inotify. Watching the directory rather than the file makes creation,
// atomic replacement (write a temporary file, rename it over) and
// removal visible too.
type Watcher struct {
	f *os.File

	mu   sync.Mutex
	dirs map[int32]string // watch descriptor → directory
	wds  map[string]int32
}

// NewWatcher opens an inotify instance.
func NewWatcher() (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	// A non-blocking descriptor in os.File goes through the runtime's
	// poller, so Close ends a Read in progress.
	return &Watcher{f: os.NewFile(uintptr(fd), "inotify"), dirs: map[int32]string{}, wds: map[string]int32{}}, nil
}

// Add watches the directory of path (a path from Resolve).
func (w *Watcher) Add(path string) error {
	dir := filepath.Dir(path)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.wds[dir]; ok {
		return nil
	}
	sc, err := w.f.SyscallConn()
	if err != nil {
		return err
	}
	var wd int
	var werr error
	if err := sc.Control(func(fd uintptr) { wd, werr = unix.InotifyAddWatch(int(fd), dir, watchMask) }); err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("inotify watch %s: %w", dir, werr)
	}
	w.dirs[int32(wd)] = dir
	w.wds[dir] = int32(wd)
	return nil
}

// Run reads events until Close and calls changed with the path of each
// file written, created, renamed or removed in a watched directory. After
// an event queue overflow it calls changed with "" (look at every file
// again). It returns nil once Close was called.
func (w *Watcher) Run(changed func(path string)) error {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("inotify read: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				changed("")
				continue
			}
			if ev.Mask&unix.IN_ISDIR != 0 || ev.Mask&watchMask == 0 {
				continue
			}
			w.mu.Lock()
			dir, ok := w.dirs[ev.Wd]
			w.mu.Unlock()
			if !ok {
				continue
			}
			changed(filepath.Join(dir, cString(name)))
		}
	}
}

// Close stops Run and releases the inotify instance.
func (w *Watcher) Close() error { return w.f.Close() }

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
