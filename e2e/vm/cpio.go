package vm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Mode bits of cpio entries (the st_mode file types).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// CPIOWriter writes a cpio archive in the "newc" format, the one the Linux
// kernel unpacks as an initramfs. Parent directories are emitted on demand,
// because the kernel does not create missing parents while unpacking.
type CPIOWriter struct {
	w      *bufio.Writer
	off    int64
	ino    uint32
	dirs   map[string]bool
	closed bool
}

// NewCPIOWriter starts an archive on w.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{w: bufio.NewWriterSize(w, 1<<16), dirs: map[string]bool{"": true}}
}

// cleanName turns "/lib/x" and "lib/x/" into "lib/x".
func cleanName(name string) (string, error) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		return "", errors.New("cpio: empty entry name")
	}
	return name, nil
}

// Dir adds a directory (and its missing parents).
func (c *CPIOWriter) Dir(name string, perm uint32) error {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if c.dirs[name] { // also the root, ""
		return nil
	}
	if err := c.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	c.dirs[name] = true
	return c.header(name, modeDir|perm&0o7777, 0, 0, 2, nil)
}

// File adds a regular file with the given content.
func (c *CPIOWriter) File(name string, perm uint32, data []byte) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	if err := c.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	return c.header(name, modeFile|perm&0o7777, 0, 0, 1, data)
}

// Symlink adds a symbolic link name -> target.
func (c *CPIOWriter) Symlink(name, target string) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	if err := c.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	return c.header(name, modeSymlink|0o777, 0, 0, 1, []byte(target))
}

// CharDev adds a character device node (like /dev/console, 5:1).
func (c *CPIOWriter) CharDev(name string, perm uint32, major, minor uint32) error {
	name, err := cleanName(name)
	if err != nil {
		return err
	}
	if err := c.Dir(path.Dir(name), 0o755); err != nil {
		return err
	}
	return c.header(name, modeCharDev|perm&0o7777, major, minor, 1, nil)
}

func (c *CPIOWriter) header(name string, mode, rmajor, rminor, nlink uint32, data []byte) error {
	if c.closed {
		return errors.New("cpio: write after Close")
	}
	c.ino++
	// newc: magic, then 13 fields of 8 hex digits: ino mode uid gid nlink
	// mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
	// mtime stays 0 so that the same input gives the same archive.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	if err := c.write([]byte(hdr)); err != nil {
		return err
	}
	if err := c.write(append([]byte(name), 0)); err != nil {
		return err
	}
	if err := c.pad(); err != nil {
		return err
	}
	if err := c.write(data); err != nil {
		return err
	}
	return c.pad()
}

func (c *CPIOWriter) write(p []byte) error {
	n, err := c.w.Write(p)
	c.off += int64(n)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	return nil
}

// pad aligns the archive to 4 bytes, as newc requires after names and data.
func (c *CPIOWriter) pad() error {
	if n := (4 - c.off%4) % 4; n > 0 {
		return c.write(make([]byte, n))
	}
	return nil
}

// Close writes the trailer entry and flushes. It does not close the
// underlying writer.
func (c *CPIOWriter) Close() error {
	if c.closed {
		return nil
	}
	if err := c.header("TRAILER!!!", 0, 0, 0, 1, nil); err != nil {
		return err
	}
	c.closed = true
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	return nil
}
