"""The pictures a list of names holds: files, folders of pictures and glob patterns.

predict.py and read_many.py take their inputs through expand(), which yields (path, error) for
each picture in order, lazily: a folder of a million files is never listed whole in memory.
error is why an input gives no picture (not found, a folder with no pictures, a pattern that
matches nothing), so that the caller answers the others and reports that one.
"""

import errno
import glob
import os
from pathlib import Path

import digit_image
import safe_files

GLOB_CHARACTERS = set("*?[")


def expand(inputs):
    """Yields (path, error) for each picture named by the inputs, in order, lazily.

    A folder gives its picture files sorted by name; a pattern such as "*.png" is expanded
    here too, for shells that do not. error is a message when an input names nothing usable.
    """
    for name in inputs:
        kind = kind_of(name) if name else "empty name"
        if kind == "not found" and GLOB_CHARACTERS & set(name):
            matches = matching(name)
            if not matches:
                yield name, "no files match this pattern"
            for match in matches:
                yield from named(match, kind_of(match))
        else:
            yield from named(name, kind)


def kind_of(name):
    """"folder", "file" (or anything else that exists), "not found", or why it cannot be
    told: a name too long, a symbolic link loop, a folder on the way that may not be
    entered, "-" (standard input, which is not read)."""
    if name == "-":
        return "reading standard input is not supported: name a picture file"
    path = Path(name)
    try:
        if path.is_dir():
            return "folder"
        os.stat(path)
        return "file"
    except ValueError:  # A name holding a NUL character.
        return "not found"
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"cannot be read ({error.strerror})"


def input_holding(path, inputs):
    """The input (a picture, or a folder or pattern that holds one) whose file writing path
    would replace, or None."""
    if not os.path.lexists(path):
        return None
    for name in inputs:
        if safe_files.same_file(path, name):
            return name
        if kind_of(name) == "folder" and safe_files.same_file(path, Path(name) / path.name):
            return name
        if GLOB_CHARACTERS & set(name) and any(safe_files.same_file(path, match)
                                               for match in matching(name)):
            return name
    return None


def named(name, kind):
    """(path, error) for what a name of this kind_of() holds: a folder's pictures, a file, or
    why there is none."""
    if kind == "folder":
        yield from expand_folder(name)
    else:
        yield name, None if kind == "file" else kind


def matching(pattern):
    """The paths a pattern matches, sorted. "**" (any depth) does not follow links to folders,
    which can loop back on themselves, and leaves out names beginning with "." (hidden), as a
    shell's "*" does."""
    if "**" not in pattern:
        return sorted(glob.glob(pattern))
    parts = Path(pattern).parts
    first = next(index for index, part in enumerate(parts) if GLOB_CHARACTERS & set(part))
    base = Path(*parts[:first])
    return sorted(str(path) for path in base.glob(str(Path(*parts[first:])))
                  if not any(part.startswith(".") for part in path.relative_to(base).parts))


def expand_folder(name):
    """The pictures of the folder so named, by name; what is wrong with the folder itself
    comes under its name as given ("scans/" stays "scans/"). Files whose name begins with
    "._" are left out: macOS writes them beside a file copied to a foreign disk, and they
    hold its metadata."""
    suffixes = digit_image.picture_suffixes()
    try:
        candidates = sorted(path for path in Path(name).iterdir()
                            if path.suffix.lower() in suffixes and not path.name.startswith("._"))
    except OSError as error:
        yield name, f"cannot list the folder ({error.strerror})"
        return
    found = False
    for path in candidates:
        try:
            if not path.is_file():
                continue
        except OSError as error:  # a link into a folder that may not be entered
            yield str(path), f"cannot be read ({error.strerror})"
        else:
            yield str(path), None
        found = True
    if not found:
        yield name, "folder holds no pictures"
