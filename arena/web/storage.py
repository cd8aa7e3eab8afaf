"""Static files in production: WhiteNoise's compressed, hashed files, our ES modules included.

Django rewrites ``import … from "./x.js"`` inside JavaScript modules to the hashed name only
when asked (its "module import aggregation" patterns); without it a page would load a
module's hashed file and its imports' unhashed ones, which are cached for less time and can
come from another release. The rewriting is applied to our own modules only
(``arena/js/*.js``): the vendor directories hold other module formats (htmx's extensions
import a bare "htmx"), which are served as they are.
"""
from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage

_, MODULE_PATTERNS = CompressedManifestStaticFilesStorage._js_module_import_aggregation_patterns


class StaticStorage(CompressedManifestStaticFilesStorage):
    patterns = (*CompressedManifestStaticFilesStorage.patterns, ("arena/js/*.js", MODULE_PATTERNS))
