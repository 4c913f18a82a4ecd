"""What `techmatch ui` runs: import the pages, open the catalogue and start loading the model in the background, then
hand this process to Streamlit's server — so the first browser to connect gets a page at once, not the imports."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """`python -m ui.serve <app.py> [streamlit options]`: preload, then `streamlit run` in this same process."""
    import warnings

    from ui import app_pages  # noqa: F401 - the pages' modules, imported now rather than on the first visit
    from ui.state import get_service

    with warnings.catch_warnings():  # st.cache_resource before the runtime exists warns once; the cache is the same
        warnings.simplefilter("ignore")
        get_service()  # the service every session shares; its model loads in the background from here
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
