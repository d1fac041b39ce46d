"""The private Streamlit flag that ui/legacy_pages.py flips still exists and still decides the routing."""

import inspect

from streamlit.commands import navigation
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner


def test_the_flag_exists_and_is_what_st_navigation_sets():
    assert "uses_pages_directory" in vars(PagesManager)
    assert "PagesManager.uses_pages_directory = False" in inspect.getsource(navigation.navigation)


def test_the_script_runner_still_takes_the_legacy_route_on_that_flag():
    assert "if PagesManager.uses_pages_directory:" in inspect.getsource(script_runner.ScriptRunner)
