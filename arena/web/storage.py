"""Static files in production: WhiteNoise's compressed, hashed files, ES modules included.

Django rewrites ``import … from "./x.js"`` inside our JavaScript modules to the hashed
name only when asked (``support_js_module_import_aggregation``); without it a page would
load a module's hashed file and its imports' unhashed ones, which are cached for less time
and can come from another release.
"""
from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
