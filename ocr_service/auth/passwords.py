"""Password rules: length, a real strength estimate (zxcvbn), no username, no common password,
no reuse of the last N; expiry. Every refusal says, in Japanese, what to fix."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from ocr_service.auth.policy import AccountPolicy

_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
_hasher = PasswordHasher()
# zxcvbn's cost grows with length; nothing past this adds strength we need to measure.
_ESTIMATE_CHARS = 100


class PasswordRejectedError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _is_common(password: str) -> bool:
    lowered = password.lower()
    stripped = lowered.rstrip("0123456789!@#$%^&*?._-")
    return lowered in common_passwords() or (len(stripped) >= 6 and stripped in common_passwords())


def password_problems(
    password: str, *, username: str, policy: AccountPolicy, previous_hashes: list[str]
) -> list[str]:
    """Everything wrong with ``password`` (empty list = acceptable)."""
    problems: list[str] = []
    if len(password) < policy.password_min_length:
        problems.append(f"{policy.password_min_length} 文字以上にしてください（今は {len(password)} 文字）。")
    if not password.strip():
        problems.append("空白だけのパスワードは使えません。")
    if username and username.lower() in password.lower():
        problems.append("ユーザー名を含めないでください。")
    if _is_common(password):
        problems.append("よく使われるパスワードです。推測されにくいものにしてください。")
    if password.strip():
        estimate = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=[username] if username else [])
        if estimate["score"] < policy.password_min_score:
            problems.append(
                "推測されやすいパスワードです。繰り返しや並び（aaaa、1234、qwerty）、単語だけの組み合わせを避け、"
                "関係のない複数の単語や記号・数字を組み合わせて長くしてください。"
            )
    for old in previous_hashes[: policy.password_history]:
        try:
            if _hasher.verify(old, password):
                problems.append(f"最近使った {policy.password_history} 個のパスワードは使えません。")
                break
        except (VerificationError, InvalidHashError):
            continue
    return problems


def expires_at(*, changed_at: datetime, policy: AccountPolicy) -> datetime | None:
    if policy.password_max_age_days <= 0:
        return None
    return changed_at + timedelta(days=policy.password_max_age_days)


def days_until_expiry(*, changed_at: datetime, policy: AccountPolicy, now: datetime) -> int | None:
    """Whole days left before the password expires (negative once expired); None if it never does."""
    end = expires_at(changed_at=changed_at, policy=policy)
    if end is None:
        return None
    return (end - now) // timedelta(days=1)


def expiry_warning(*, changed_at: datetime, policy: AccountPolicy, now: datetime) -> str | None:
    left = days_until_expiry(changed_at=changed_at, policy=policy, now=now)
    if left is None or left >= policy.password_warn_days:
        return None
    if left < 0:
        return "パスワードの有効期限が切れました。新しいパスワードを設定してください。"
    return f"パスワードの有効期限まであと {left} 日です。早めに変更してください。"
