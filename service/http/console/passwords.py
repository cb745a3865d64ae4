"""Console passwords: argon2id through argon2-cffi.

argon2id rather than hashlib.scrypt: it is OWASP's first choice for password storage, and
argon2-cffi keeps the salt and cost parameters in the stored string (PHC format), compares in
constant time and says when a stored hash is weaker than today's parameters, all of which
scrypt would leave us to write by hand. Its defaults (RFC 9106's second recommended set:
64 MiB, 3 passes) cost about 50 ms per check here, which is what makes a stolen store's hashes
slow to guess.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# A password longer than this is refused: hashing cost grows with it, and no person types more.
MAX_PASSWORD = 1024
# Short passwords are guessed whatever the hash (NIST SP 800-63B asks for at least 8).
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@functools.cache
def dummy_hash() -> str:
    """A hash of nothing anyone can type, checked when the name is unknown so that a wrong
    name costs the same time as a wrong password (names are not revealed by timing). Made on
    first use: not in every `quantam` command's start."""
    return hash_password("\x00 no user \x00")


def verify_password(stored: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in words, or None."""
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"the password must be at most {MAX_PASSWORD} characters"
    return None
