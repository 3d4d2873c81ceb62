"""Writes the reference pages when the docs are built (mkdocs-gen-files runs it): they come from
the code, so they cannot drift from it. Not a page itself (mkdocs.yml excludes it)."""

import mkdocs_gen_files

from jsm_autopilot import reference

for name, page in (("cli", reference.cli_page), ("settings", reference.settings_page), ("rules", reference.rules_page),
                   ("environment", reference.environment_page), ("endpoints", reference.endpoints_page),
                   ("guide-map", reference.guide_map_page)):
    with mkdocs_gen_files.open(f"reference/{name}.md", "w") as written:
        written.write(page())
