package notifyfifo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsctl/lvsctl/internal/script"
)

// fifo is one open notify FIFO: the file, the queue its writer goroutine
// empties, and the script that reads it.
type fifo struct {
	path  string
	owner script.As
	mode  os.FileMode
	// created: lvsctl made the FIFO, so it removes it when it closes it
	// (keepalived's created_fifo).
	created bool
	file    *os.File
	log     *slog.Logger

	q    chan []byte
	stop chan struct{} // closed by close: drain and return
	done chan struct{} // closed when the writer returned

	closing          atomic.Bool
	written, dropped atomic.Uint64
	// loggedDrop is when a dropped line was last logged (Unix ns): at
	// most one log line per dropLogEvery, with the count so far.
	loggedDrop atomic.Int64

	// cmd and proc are the FIFO's script (nil: none); they change on the
	// Hub's goroutine only.
	cmd  *script.Command
	proc *proc
}

// openFIFO makes path a FIFO when nothing is there (mode, then owner, as
// keepalived's fifo_open: mkfifo and chown), or uses the FIFO that is
// there, and opens it for reading and writing: the open never waits for
// a reader, and lines written while nobody reads wait in the pipe, as
// with keepalived (O_RDWR | O_NONBLOCK | O_NOFOLLOW).
func openFIFO(path string, mode os.FileMode, owner script.As, queue int, log *slog.Logger) (*fifo, error) {
	created := false
	switch err := syscall.Mkfifo(path, uint32(mode.Perm())); {
	case err == nil:
		created = true
		// The process umask may have taken bits keepalived's would not.
		if err := os.Chmod(path, mode.Perm()); err != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("notify FIFO %s: %w", path, err)
		}
		if err := chown(path, owner); err != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("notify FIFO %s: owner %s: %w", path, owner, err)
		}
	case errors.Is(err, fs.ErrExist):
		fi, lerr := os.Lstat(path)
		if lerr != nil {
			return nil, fmt.Errorf("notify FIFO %s: %w", path, lerr)
		}
		if fi.Mode().Type() != fs.ModeNamedPipe {
			return nil, fmt.Errorf("notify FIFO %s: exists and is not a FIFO (%s): remove it or name another path", path, typeName(fi.Mode()))
		}
	default:
		return nil, fmt.Errorf("notify FIFO %s: create: %w", path, err)
	}
	// os.OpenFile registers a FIFO with the poller: writes wait without a
	// thread, and a deadline ends them.
	file, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err == nil {
		if fi, serr := file.Stat(); serr != nil || fi.Mode().Type() != fs.ModeNamedPipe {
			_ = file.Close()
			err = fmt.Errorf("not a FIFO any more")
		}
	}
	if err != nil {
		if created {
			_ = os.Remove(path)
		}
		return nil, fmt.Errorf("notify FIFO %s: open: %w", path, err)
	}
	f := &fifo{path: path, owner: owner, mode: mode, created: created, file: file, log: log,
		q: make(chan []byte, queue), stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	log.Info("notify FIFO open", "fifo", path, "created", created)
	return f, nil
}

// chown gives a FIFO lvsctl made to owner when owner is not lvsctl itself
// (keepalived changes only the ids that differ from its own).
func chown(path string, owner script.As) error {
	if !owner.Set {
		return nil
	}
	uid, gid := -1, -1
	if int(owner.UID) != os.Geteuid() {
		uid = int(owner.UID)
	}
	if int(owner.GID) != os.Getegid() {
		gid = int(owner.GID)
	}
	if uid == -1 && gid == -1 {
		return nil
	}
	return os.Lchown(path, uid, gid)
}

func typeName(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeSocket:
		return "a socket"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "a device"
	}
	return m.Type().String()
}

// enqueue hands line to the writer and returns at once: a full queue (a
// reader that does not keep up, or none at all once the pipe is full)
// drops the line and counts it.
func (f *fifo) enqueue(line []byte) {
	if f.closing.Load() {
		f.dropped.Add(1)
		return
	}
	select {
	case f.q <- line:
	default:
		f.drop(line, errors.New("queue full: the FIFO is not read"))
	}
}

// dropLogEvery bounds the log lines about dropped lines: a FIFO nobody
// reads drops every line, and the log must not grow with them.
const dropLogEvery = 10 * time.Second

func (f *fifo) drop(line []byte, why error) {
	n := f.dropped.Add(1)
	now, last := time.Now().UnixNano(), f.loggedDrop.Load()
	if (last == 0 || now-last >= int64(dropLogEvery)) && f.loggedDrop.CompareAndSwap(last, now) {
		f.log.Warn("notify FIFO line dropped", "fifo", f.path, "line", string(line[:len(line)-1]), "err", why,
			"dropped_total", n, "next_report_in", dropLogEvery.String())
	}
}

// run writes queued lines one at a time. A write waits while the pipe is
// full (its reader is slow, or absent: the lines written so far wait in
// the pipe for the next reader); meanwhile the queue fills and later lines
// are dropped. close ends the wait with a deadline.
func (f *fifo) run() {
	defer close(f.done)
	for {
		select {
		case line := <-f.q:
			f.write(line)
		case <-f.stop:
			for {
				select {
				case line := <-f.q:
					f.write(line)
				default:
					return
				}
			}
		}
	}
}

func (f *fifo) write(line []byte) {
	if _, err := f.file.Write(line); err != nil {
		f.drop(line, err)
		return
	}
	f.written.Add(1)
}

// close writes what is queued (waiting at most flush for room in the
// pipe), removes the FIFO if lvsctl made it (first, as keepalived's
// fifo_close, so a script that reopens it in a loop cannot), closes it,
// then stops the script: a script that reads to the end of the FIFO gets
// scriptWait to exit by itself, then SIGTERM.
func (f *fifo) close(flush, scriptWait time.Duration) {
	f.closing.Store(true)
	_ = f.file.SetWriteDeadline(time.Now().Add(flush))
	close(f.stop)
	<-f.done
	if f.created {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("removing notify FIFO", "fifo", f.path, "err", err)
		}
	}
	_ = f.file.Close()
	f.stopScript(scriptWait)
	f.log.Info("notify FIFO closed", "fifo", f.path, "written", f.written.Load(), "dropped", f.dropped.Load())
}

// startScript runs cmd with the FIFO's path appended (keepalived's
// add_script_param), without a timeout, until stopScript.
func (f *fifo) startScript(run script.Runner, cmd *script.Command) {
	f.cmd = cmd
	if cmd == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{cancel: cancel, done: make(chan struct{})}
	f.proc = p
	f.log.Info("notify FIFO script started", "fifo", f.path, "script", cmd.Line, "user", cmd.As.String())
	go func() {
		defer close(p.done)
		err := run.Run(ctx, *cmd, 0, f.path)
		if ctx.Err() == nil {
			// keepalived logs "notify fifo script terminated" and does not
			// start it again either.
			f.log.Warn("notify FIFO script terminated", "fifo", f.path, "script", cmd.Line, "err", err)
		}
	}()
}

// stopScript waits up to wait for the script to end, then ends it (SIGTERM
// to its process group, SIGKILL after the runner's grace).
func (f *fifo) stopScript(wait time.Duration) {
	p := f.proc
	f.proc, f.cmd = nil, nil
	if p == nil {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	p.cancel()
	<-p.done
}

// proc is a running FIFO script.
type proc struct {
	cancel context.CancelFunc
	done   chan struct{}
}
