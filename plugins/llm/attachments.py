"""Files a member attaches to a message or to /ask, turned into what the model sees: images as
image parts (when the model accepts images), text files inlined in fences, anything else
refused with the reason. Free of Discord types: the cog hands over `Upload`s.

Order of checks, cheapest first: the kind (from the name and Discord's content type), then
the size Discord reports (before anything is downloaded), then the bytes themselves (an image's
magic bytes and a full Pillow decode; text must be UTF-8 without NUL bytes). Images are
re-encoded, which drops their metadata (a phone photo's EXIF holds where it was taken) and
scales them to at most 2,048 px a side, the most the OpenAI API uses."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from PIL import Image

from bot.api import UserError

IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "gif"})
# Extension → fence language.
TEXT_EXTENSIONS = {
    "txt": "", "md": "markdown", "markdown": "markdown", "csv": "csv", "tsv": "tsv",
    "json": "json", "jsonl": "json", "py": "python", "js": "javascript", "ts": "typescript",
    "yaml": "yaml", "yml": "yaml", "toml": "toml", "ini": "ini", "cfg": "ini", "log": "",
    "xml": "xml", "html": "html", "css": "css", "sql": "sql", "sh": "bash", "rs": "rust",
    "go": "go", "java": "java", "c": "c", "h": "c", "cpp": "cpp", "rb": "ruby", "php": "php",
}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
# The OpenAI API scales images to fit 2,048 px; sending more only costs bandwidth.
IMAGE_MAX_SIDE = 2048
# A decompression bomb (a tiny file that decodes to gigapixels) is refused from its header.
MAX_PIXELS = 40_000_000
MAX_IMAGES = 4
MAX_FILES = 5
SUPPORTED = "images (PNG, JPEG, WEBP, GIF) and text files (txt, md, csv, json, py, …)"
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


class AttachmentRefused(UserError):
    """An attachment the assistant won't take; the message says which and why."""


@dataclass(frozen=True)
class Upload:
    filename: str
    # The size Discord reports: checked before anything is downloaded.
    size: int
    content_type: str | None
    read: Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class AttachmentLimits:
    vision: bool  # the model answering accepts image parts
    image_max_bytes: int
    text_max_bytes: int


@dataclass
class Intake:
    """What the attachments of one message add to the turn."""

    texts: list[str] = field(default_factory=list)  # fenced blocks, in the order attached
    images: list[str] = field(default_factory=list)  # data: URLs
    image_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # shown to the member with the answer

    @property
    def inlined(self) -> str:
        return "\n\n".join(self.texts)

    def remembered(self) -> str:
        """What history keeps: the inlined files, but only the names of images."""
        return "\n".join([*(f"[image: {n}]" for n in self.image_names), *self.texts])


def safe_name(filename: str) -> str:
    """A file name that can be shown in backticks and given to the model: no markdown,
    mentions or control characters."""
    name = _UNSAFE_NAME.sub("_", filename).strip(" .") or "file"
    return name[-80:]


def extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} KB"


async def take(uploads: Sequence[Upload], limits: AttachmentLimits) -> Intake:
    """Read and check every upload. Raises AttachmentRefused (nothing is sent to the model,
    no tokens are reserved) for the first one refused."""
    intake = Intake()
    if len(uploads) > MAX_FILES:
        raise AttachmentRefused(f"Attach at most {MAX_FILES} files to one message.")
    for upload in uploads:
        name, ext = safe_name(upload.filename), extension(upload.filename)
        kind = (upload.content_type or "").split(";")[0].strip().lower()
        if ext in IMAGE_EXTENSIONS or kind.startswith("image/"):
            if not limits.vision:
                intake.notes.append(f"📎 The model here can't see images, so `{name}` was "
                                    "left out.")
                continue
            if len(intake.images) == MAX_IMAGES:
                raise AttachmentRefused(f"Attach at most {MAX_IMAGES} images to one message.")
            intake.images.append(await _image(upload, name, limits.image_max_bytes))
            intake.image_names.append(name)
        elif ext in TEXT_EXTENSIONS or kind.startswith("text/"):
            intake.texts.append(await _text(upload, name, ext, limits.text_max_bytes))
        else:
            raise AttachmentRefused(f"I can't read `{name}`: I take {SUPPORTED}.")
    return intake


async def _read(upload: Upload, name: str, limit: int, what: str) -> bytes:
    if upload.size > limit:
        raise AttachmentRefused(f"`{name}` is {_size(upload.size)}; {what} can be up to "
                                f"{_size(limit)}.")
    data = await upload.read()
    if len(data) > limit:  # Discord's figure was wrong: the bytes decide
        raise AttachmentRefused(f"`{name}` is {_size(len(data))}; {what} can be up to "
                                f"{_size(limit)}.")
    return data


async def _text(upload: Upload, name: str, ext: str, limit: int) -> str:
    data = await _read(upload, name, limit, "text files")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AttachmentRefused(f"`{name}` isn't UTF-8 text, so I can't read it.") from None
    if "\x00" in text:
        raise AttachmentRefused(f"`{name}` looks like a binary file, not text.")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)  # a fence the file's own backticks cannot close
    return f"Attached file `{name}`:\n{fence}{TEXT_EXTENSIONS.get(ext, '')}\n{text}\n{fence}"


async def _image(upload: Upload, name: str, limit: int) -> str:
    data = await _read(upload, name, limit, "images")
    # Decoding is CPU work: off the event loop, so other members' turns keep streaming.
    return await asyncio.to_thread(reencode, data, name)


def image_format(data: bytes) -> str | None:
    """The format the bytes say they are (not what the file name says)."""
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def reencode(data: bytes, name: str) -> str:
    """A data: URL of the image re-encoded (PNG when it has transparency or was a PNG or
    GIF, else JPEG); refuses anything that isn't a whole, reasonably sized image."""
    fmt = image_format(data)
    if fmt is None:
        raise AttachmentRefused(f"`{name}` isn't an image I can read (its content is not "
                                "PNG, JPEG, WEBP or GIF, whatever its name says).")
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            if img.width * img.height > MAX_PIXELS:
                raise AttachmentRefused(f"`{name}` is {img.width}×{img.height} pixels; "
                                        f"images can have up to {MAX_PIXELS:,} pixels.")
            img.load()
            img.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
            alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            out = io.BytesIO()
            if fmt in ("PNG", "GIF") or alpha:
                # Screenshots and drawings stay lossless; zlib level 3 is ~3× faster than the
                # default 6 for a few percent more bytes.
                img.convert("RGBA" if alpha else "RGB").save(out, "PNG", compress_level=3)
                mime = "image/png"
            else:
                img.convert("RGB").save(out, "JPEG", quality=85)
                mime = "image/jpeg"
    except AttachmentRefused:
        raise
    except Exception:
        raise AttachmentRefused(f"`{name}` is damaged or not a complete {fmt} image.") from None
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode()}"


def accepts_images(vision_models: str, model: str | None) -> bool:
    """Whether `model` is among the comma-separated LLM_VISION_MODELS ("*": every model)."""
    names = {n.strip() for n in vision_models.split(",") if n.strip()}
    return model is not None and ("*" in names or model in names)
