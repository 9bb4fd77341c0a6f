"""Image files behind one interface: the local folder (default) or S3-compatible object storage, same keys."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from vcc_ui.services.storage.core import (
    DEFAULT_ALLOWED,
    DEFAULT_MAX_DECODES,
    DEFAULT_MAX_PIXELS,
    IMAGE_ID_RE,
    OWNER_RE,
    THUMB_MAX_SIDE,
    FileInfo,
    ImageRejected,
    Kind,
    SniffedImage,
    Storage,
    StorageError,
    StorageUnavailable,
    StoredFile,
    check_rel,
    folder_of,
    sha256_bytes,
    sidecar_of,
    sniff_image,
    thumbs_of,
)
from vcc_ui.services.storage.local import LocalStorage
from vcc_ui.services.storage.s3 import S3Config, S3Storage
from vcc_ui.settings import Settings

__all__ = [
    'DEFAULT_ALLOWED',
    'DEFAULT_MAX_DECODES',
    'DEFAULT_MAX_PIXELS',
    'IMAGE_ID_RE',
    'OWNER_RE',
    'THUMB_MAX_SIDE',
    'FileInfo',
    'ImageRejected',
    'Kind',
    'LocalStorage',
    'S3Config',
    'S3Storage',
    'SniffedImage',
    'Storage',
    'StorageError',
    'StorageUnavailable',
    'StoredFile',
    'check_rel',
    'folder_of',
    'local_root',
    'open_storage',
    's3_config',
    'sha256_bytes',
    'sidecar_of',
    'sniff_image',
    'storage_location',
    'thumbs_of',
]


def s3_config(settings: Settings) -> S3Config | None:
    """The S3 settings when STORAGE_URL is s3://bucket/prefix, else None (the local folder)."""
    url = urlsplit(settings.storage_url.strip())
    if url.scheme != 's3':
        return None
    return S3Config(
        bucket=url.netloc,
        prefix=url.path,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region or None,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=settings.s3_secret_access_key or None,
        presign_seconds=settings.s3_presign_seconds,
    )


def local_root(settings: Settings) -> Path:
    """The local folder: STORAGE_URL's file:// path, or OUTPUT_DIR."""
    url = settings.storage_url.strip()
    return Path(url.removeprefix('file://')) if url.startswith('file://') else Path(settings.output_dir)


def storage_location(settings: Settings) -> str:
    """Where STORAGE_URL puts the files, ending in '/', without connecting anywhere (for operators' messages)."""
    if (config := s3_config(settings)) is not None:
        prefix = config.prefix.strip('/')
        return f's3://{config.bucket}/{prefix + "/" if prefix else ""}'
    return f'{local_root(settings).resolve()}/'


def open_storage(settings: Settings) -> Storage:
    """The backend STORAGE_URL names: s3://bucket/prefix, or the local folder (empty or file://path)."""
    limits = {'max_pixels': settings.max_image_pixels, 'max_decodes': settings.max_concurrent_decodes}
    if (config := s3_config(settings)) is not None:
        return S3Storage(config, **limits)
    return LocalStorage(local_root(settings), **limits)
