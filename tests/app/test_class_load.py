"""The class load test (benchmarks/class_load.py): its protocol pieces, its comparison, and two students at once on a
real server (slow)."""

from __future__ import annotations

import asyncio
import io
from contextlib import ExitStack
from email.parser import BytesParser
from email.policy import HTTP

import numpy as np
import pytest
from PIL import Image
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.Element_pb2 import Element

from benchmarks.class_load import (
    SHORT_TOUR,
    Outcome,
    Page,
    Session,
    _unchunk,
    class_run,
    compare,
    default_photo,
    multipart,
    parse_args,
    percentile,
    photo_uploader,
    user_key,
    with_comment,
)
from tests.browser import streamlit_server
from tests.conftest import REAL_SERVERS


def test_a_comment_changes_the_bytes_not_the_pixels():
    photo = default_photo().read_bytes()
    a, b = with_comment(photo, "student 1"), with_comment(photo, "student 2")
    assert len({photo, a, b}) == 3
    pixels = [np.asarray(Image.open(io.BytesIO(x)).convert("RGB")) for x in (photo, a, b)]
    assert all(np.array_equal(pixels[0], p) for p in pixels[1:])
    with pytest.raises(ValueError):
        with_comment(b"\x89PNG....", "x")


def test_user_key_is_the_end_of_a_widget_id():
    assert user_key("$$ID-2af50266c22b71310c9b595836686daf-model_source") == "model_source"
    assert user_key("$$ID-2af50266c22b71310c9b595836686daf-feature_maps_channel_stage1-1") == \
        "feature_maps_channel_stage1-1"
    assert user_key("$$ID-2af50266c22b71310c9b595836686daf") is None


def test_multipart_body_holds_the_file_under_the_field_name_file():
    content_type, body = multipart("photo.jpg", b"\xff\xd8 bytes", "image/jpeg")
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    (part,) = msg.iter_parts()
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "photo.jpg"
    assert part.get_content() == b"\xff\xd8 bytes"


def test_unchunk():
    assert _unchunk(b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n") == b"Wikipedia"


def _element(**fields) -> Element:
    el = Element()
    for kind, values in fields.items():
        part = getattr(el, kind)
        part.CopyFrom(type(part)(**values))
    return el


def test_page_keeps_the_last_element_at_each_path_and_finds_errors():
    page = Page()
    page.add((0, 0), _element(markdown={"body": "computing..."}), {})
    page.add((0, 0), _element(markdown={"body": "done"}), {})
    page.add((0, 1), _element(alert={"body": "broken", "format": Alert.ERROR}), {})
    page.add((0, 2), _element(exception={"type": "KeyError", "message": "'x'"}), {})
    page.add((1, 0), _element(markdown={"body": "sidebar"}), {})
    assert page.lines() == ["markdown: done", "error: broken", "exception KeyError: 'x'"]
    assert page.errors() == ["st.error: broken"]
    assert page.exceptions() == ["KeyError: 'x'"]


def test_a_selectbox_shows_what_the_server_set_else_what_the_browser_kept():
    shown: dict[str, str] = {}
    wid = "$$ID-0123-feature_maps_layer"
    page = Page()
    page.add((0, 0), _element(selectbox={"id": wid, "label": "Layer", "options": ["a", "b"], "default": 0}), shown)
    assert shown[wid] == "a"
    shown[wid] = "b"  # the student picked b
    page.add((0, 0), _element(selectbox={"id": wid, "label": "Layer", "options": ["a", "b"], "default": 0}), shown)
    assert page.lines() == ["selectbox Layer = b"]
    assert page.widget("feature_maps_layer")[1].raw_value == "b"
    with pytest.raises(LookupError, match="feature_maps_layer"):
        page.widget("attribution_layer")


def test_compare_marks_pages_that_differ_from_the_solo_tour():
    solo = [Outcome(0, "home", 1.0, lines=["h1"]), Outcome(0, "feature_maps", 1.0, lines=["top: cat 90%"])]
    same = [Outcome(1, "home", 2.0, lines=["h1"]), Outcome(1, "feature_maps", 2.0, lines=["top: cat 90%"])]
    other = [Outcome(2, "home", 2.0, lines=["h1"]), Outcome(2, "feature_maps", 2.0, lines=["top: dog 80%"])]
    compare(same + other, solo)
    assert [o.wrong for o in same] == [None, None]
    assert other[0].wrong is None
    assert "dog 80%" in str(other[1].wrong) and "cat 90%" in str(other[1].wrong)


def test_texts_about_the_server_s_speed_are_left_out_of_the_comparison(monkeypatch):
    import benchmarks.class_load as cl
    from resnet_viz.i18n import t

    def line(label: str) -> str:
        return "progress 0.9: " + t("feature_maps.prediction", "en", label=label, prob="90.0")

    for volatile, wrong in (((), True), (("feature_maps.prediction",), False)):
        monkeypatch.setattr(cl, "VOLATILE", volatile)
        mine = [Outcome(1, "feature_maps", 1.0, lines=["h1", line("dog")])]
        compare(mine, [Outcome(0, "feature_maps", 1.0, lines=["h1", line("cat")])])
        assert (mine[0].wrong is not None) is wrong


def test_percentile():
    assert percentile([], 50) != percentile([], 50)  # nan
    assert percentile([3.0], 95) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 50) == pytest.approx(50.5)


@pytest.mark.slow
@REAL_SERVERS
def test_two_students_at_once_get_what_one_alone_gets(tmp_path):
    """The short tour (home, feature maps with an upload and a layer change, attribution with the upload) alone,
    then by two sessions at once: no error, no exception, every page equal to the solo tour's."""
    args = parse_args(["--sessions", "2", "--short", "--timeout", "60", "--deadline", "45", "--settle", "0.2"])
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache")}
    with ExitStack() as stack:
        try:
            url, proc = stack.enter_context(streamlit_server(env, timeout=40))
        except RuntimeError as exc:
            pytest.skip(f"the app's server could not start here: {exc}")
        port = int(url.rsplit(":", 1)[1])
        result = asyncio.run(class_run(port, [proc.pid], args, args.photo.read_bytes(), SHORT_TOUR))
        assert proc.poll() is None, "the server died"
    assert result["problems"] == []
    rows = result["interactions"]
    assert list(rows) == list(dict.fromkeys(name for name, _ in SHORT_TOUR))
    assert all(r["finished"] == r["n"] == 2 for r in rows.values()), rows
    solo = {h["step"]: h for h in result["solo_headlines"]}
    assert solo["feature_maps"]["top"] and solo["feature_maps_upload"]["top"]
    assert result["rss_mb"]["peak"] >= result["rss_mb"]["started"] > 0


def test_a_session_keeps_every_cookie_it_is_given_and_sends_them_back():
    """Behind nginx an answer sets two cookies (the replica's and Streamlit's XSRF token): both must come back."""
    seen: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        seen.append(next((h.split(":", 1)[1].strip() for h in head.split("\r\n") if h.lower().startswith("cookie:")),
                         ""))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: resnet_viz_replica=2; Path=/; HttpOnly\r\n"
                     b"Set-Cookie: _streamlit_xsrf=2|ab|cd|1; Path=/\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def scenario() -> Session:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        s = Session(server.sockets[0].getsockname()[1], timeout=10)
        async with server:
            assert (await s.request("/_stcore/health"))[0] == 200
            await s.request("/media/x.png")
        return s

    s = asyncio.run(scenario())
    assert s.cookies == {"resnet_viz_replica": "2", "_streamlit_xsrf": "2|ab|cd|1"} and s.xsrf == "2|ab|cd|1"
    assert seen == ["", "resnet_viz_replica=2; _streamlit_xsrf=2|ab|cd|1"]


def test_a_session_moved_to_another_server_may_lack_only_the_photo_s_provenance():
    """After a move the student uploads the photo again on the page they are on, which then does not say that the
    photo came from an earlier page; every other line must still equal the solo tour's."""
    from resnet_viz.i18n import t

    caption = "markdown: " + t("images.photo_from_elsewhere", "en", name="photo.jpg")
    solo = [Outcome(0, "attribution", 1.0, lines=["h1", caption, "top: cat 90%"])]
    moved = [Outcome(1, "attribution", 5.0, moves=1, lines=["h1", "top: cat 90%"])]
    still = [Outcome(2, "attribution", 1.0, lines=["h1", "top: cat 90%"])]
    wrong = [Outcome(3, "attribution", 5.0, moves=1, lines=["h1", "top: dog 80%"])]
    compare(moved + still + wrong, solo)
    assert moved[0].wrong is None and still[0].wrong is not None and wrong[0].wrong is not None


def test_the_photo_uploader_is_the_one_for_pictures():
    page = Page()
    page.add((1, 0), _element(file_uploader={"id": "$$ID-1-model_upload", "type": [".safetensors", ".pt"]}), {})
    assert photo_uploader(page) is None
    page.add((0, 3), _element(file_uploader={"id": "$$ID-2-attribution_upload", "type": [".jpg", ".png"]}), {})
    assert photo_uploader(page) == "attribution_upload"


def test_after_a_move_a_page_may_lack_what_the_new_server_has_not_computed_yet_but_not_differ():
    """From its move on, a session's page may end early (a result still in the new server's queue); a line that
    differs is still wrong, and a session that never moved must match line for line."""
    solo = [Outcome(0, "figure7", 1.0, lines=["h1", "chart a"]), Outcome(0, "figure7_recompute", 1.0,
                                                                          lines=["h1", "chart a", "table"])]

    def tour(number: int, moves: int, last: list[str]) -> list[Outcome]:
        return [Outcome(number, "figure7", 1.0, moves=moves, lines=["h1", "chart a"]),
                Outcome(number, "figure7_recompute", 1.0, lines=last)]

    shorter, differs = tour(1, 1, ["h1", "chart a"]), tour(2, 1, ["h1", "chart b"])
    never = tour(3, 0, ["h1", "chart a"])
    compare(shorter + differs + never, solo)
    assert shorter[1].wrong is None and differs[1].wrong is not None and never[1].wrong is not None
