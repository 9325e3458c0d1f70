"""Reading files safely, whatever a user's disk or a mirror holds.

Only regular files (and folders where a folder is expected) are opened. A FIFO would block
for good, a device such as /dev/zero reads forever, so each is refused by what it is,
before any library touches the path. Every read is capped: a file by its size, a
compressed stream while it decompresses, an archive by the sizes it declares. Writing
outputs is safe_outputs.py's.

Nothing here imports anything of this project: common.py and the scripts build on it.
"""

import hashlib
import errno
import os
import stat
import zlib
from pathlib import Path

# An archive member that decompresses to more than this many times its stored size is a
# decompression bomb. The project's archives are stored (Keras's .keras, np.savez) or
# compress MNIST's pixels about 5x; deflate cannot exceed about 1032x.
MAX_EXPANSION = 100
READ_CHUNK = 1 << 20



class Refused(ValueError):
    """A path, file or download that is not used, and why, in one line. str() is the whole
    message ("<path> <reason>" unless given); .reason alone reads after any noun, as in
    "model x.keras is a FIFO"."""

    def __init__(self, path, reason, message=None):
        super().__init__(message or f"{path} {reason}")
        self.path, self.reason = path, reason


def _content(name, reason):
    """Refused for what a file holds: "<name>: <reason>", as preprocess.py names its files."""
    return Refused(name, reason, f"{name}: {reason}")


# What os.stat says of a path that cannot be looked at, as the rest of a sentence.
_OS_REASONS = {
    errno.ENOENT: "not found",
    errno.ELOOP: "is a symbolic link loop",
    errno.EACCES: "cannot be read: permission denied",
    errno.EPERM: "cannot be read: permission denied",
    errno.ENAMETOOLONG: "has a name too long for the file system",
    errno.ENOTDIR: "not found (a part of its path is a file, not a folder)",
}


def kind(path):
    """"file" or "folder" for what may be read, else why not, as the rest of a sentence
    after the path: "is a FIFO", "is a character device", "not found", "is a symbolic link
    loop", ... Looks without opening: opening a device can have effects of its own."""
    if str(path) == "-":
        return "is not a file: reading standard input is not supported, name a file"
    if not str(path):
        return "is an empty name"
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno == errno.ENOENT and os.path.islink(path):
            return "not found (a symbolic link to nothing)"
        return _OS_REASONS.get(error.errno, f"cannot be read: {error.strerror}")
    except ValueError:  # A name holding a NUL character.
        return "is not a usable name"
    return _kind_of_mode(mode)


def _kind_of_mode(mode):
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file"
    if stat.S_ISCHR(mode):
        return "is a character device, not a file"
    if stat.S_ISBLK(mode):
        return "is a block device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is not a regular file"


def check_input(path, folder=False):
    """Returns "file" or (when folder is true) "folder" for path; raises Refused for
    anything else, with what it is."""
    found = kind(path)
    if found == "file" or (found == "folder" and folder):
        return found
    raise Refused(path, "is a folder, not a file" if found == "folder" else found)


def open_input(path):
    """Opens a regular file for reading in binary; raises Refused for anything else.

    Looked at first, then opened without blocking and looked at again through the open
    file, so that a FIFO put in its place in between is refused too instead of blocking.
    """
    check_input(path)
    try:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags)
    except OSError as error:
        raise Refused(path, _OS_REASONS.get(error.errno, f"cannot be read: {error.strerror}")
                      ) from None
    try:
        found = _kind_of_mode(os.fstat(fd).st_mode)
        if found != "file":
            raise Refused(path, "is a folder, not a file" if found == "folder" else found)
        os.set_blocking(fd, True)
        return open(path, "rb", opener=lambda *_: fd)  # noqa: SIM115  The caller closes it.
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, cap, name=None):
    """The bytes of a regular file of at most cap bytes; Refused for anything else."""
    with open_input(path) as file:
        return read_file(file, cap, name or path)


def read_file(file, cap, name):
    """The rest of an open file, refused (ValueError) when it holds more than cap bytes."""
    data = file.read(cap + 1)
    if len(data) > cap:
        raise _content(name, f"more than {cap:,} bytes")
    return data


def gunzip(chunks, cap, name):
    """The decompressed bytes of a gzip stream given as an iterable of byte strings,
    streamed through zlib so that no more than cap bytes are ever held: a stream that
    decompresses to more is refused as soon as it passes the cap. Several gzip members one
    after another (as `cat a.gz b.gz` makes) decompress to their contents joined."""
    out = bytearray()
    decompressor, started = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS), False
    try:
        for chunk in chunks:
            while chunk:
                if not started:  # Between members gzip allows zeros as padding.
                    chunk = chunk.lstrip(b"\0")
                    if not chunk:
                        break
                started = True
                out += decompressor.decompress(chunk, cap + 1 - len(out))
                if len(out) > cap:
                    raise _content(name, f"wrong content (decompresses to more than {cap:,} "
                                   "bytes)")
                if decompressor.eof:  # The next member, if any, starts in what is left.
                    chunk = decompressor.unused_data
                    decompressor, started = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS), False
                else:
                    chunk = decompressor.unconsumed_tail
        # Output zlib holds back after the input ran out.
        while started and not decompressor.eof:
            more = decompressor.decompress(b"", cap + 1 - len(out))
            if not more:
                raise _content(name, "broken gzip (cut short)")
            out += more
            if len(out) > cap:
                raise _content(name, f"wrong content (decompresses to more than {cap:,} bytes)")
    except zlib.error as error:
        raise _content(name, f"broken gzip ({error})") from None
    return bytes(out)


def file_chunks(file, cap, name):
    """The rest of an open file in pieces, refused (ValueError) once past cap bytes."""
    done = 0
    while chunk := file.read(READ_CHUNK):
        done += len(chunk)
        if done > cap:
            raise _content(name, f"more than {cap:,} bytes")
        yield chunk


def file_sha256(path, cap, name=None):
    """The SHA-256 of a regular file of at most cap bytes, in hex, read in pieces; Refused
    (or ValueError past cap, the error naming it name, by default its path) otherwise."""
    digest = hashlib.sha256()
    with open_input(path) as file:
        for chunk in file_chunks(file, cap, str(path) if name is None else name):
            digest.update(chunk)
    return digest.hexdigest()


def check_archive(archive, cap, name):
    """Raises Refused when a zip archive's members declare more than cap bytes in all, or
    one of them over a megabyte decompresses to more than MAX_EXPANSION times its stored
    size. Python's zipfile reads a member up to its declared size and no further, so the
    declared sizes bound what reading the archive can take."""
    members = archive.infolist()
    total = sum(member.file_size for member in members)
    if total > cap:
        raise _content(name, f"too large: its archive holds {total:,} bytes, over the limit of "
                       f"{cap:,}")
    for member in members:
        if member.file_size > max(1 << 20, MAX_EXPANSION * member.compress_size):
            raise _content(name, f"a decompression bomb: {member.filename} declares "
                           f"{member.file_size:,} bytes stored in {member.compress_size:,}")


def check_tree(folder, cap):
    """Raises Refused unless everything in folder is a regular file or a folder, together
    at most cap bytes (a SavedModel, before TensorFlow reads it)."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            path = Path(parent) / name
            found = kind(path)
            if found not in ("file", "folder"):
                what = f"which {found}" if found.startswith("is ") else f"({found})"
                raise Refused(folder, f"holds {path.relative_to(folder)}, {what}")
            total += os.stat(path).st_size if found == "file" else 0
    if total > cap:
        raise _content(folder, f"too large: it holds {total:,} bytes, over the limit of {cap:,}")


def same_file(output, path):
    """Whether writing output would replace path (or the file it links to): the same name
    in the same folder, or the same file under another name."""
    output, path = Path(output), Path(path)
    try:
        if (os.path.realpath(output.parent), output.name) == (
                os.path.realpath(path.parent), path.name):
            return True
        return os.path.exists(output) and os.path.exists(path) and os.path.samefile(output, path)
    except (OSError, ValueError):
        return False
