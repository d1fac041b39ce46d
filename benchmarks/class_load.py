"""A whole class on one server: N students walk the same tour of the app at once, spoken to over Streamlit's own
websocket protocol (no browser per session).

    python -m benchmarks.class_load [--sessions 30] [--timeout 300] [--deadline 3600] [--json-out FILE]

It starts ``streamlit run app.py`` on a free loopback port with an empty HOME (a fresh deploy), opens a session
to the home page (the server imports torch), runs one tour alone (the reference), then N tours at once. A tour:
home -> feature maps -> upload a photo -> two layer changes -> attribution -> the same photo uploaded there ->
Figure 7 -> "Recompute live" -> gradient flow. Each interaction is one BackMsg ``rerun_script`` (widget states
as the browser sends them; an upload goes through ``file_urls_request`` and the upload endpoint first) timed to
the ForwardMsg ``script_finished``; the page it leaves (every text, metric, table cell, widget value, picture
address, i.e. the picture's content hash, and chart digest; not the texts that estimate this server's speed) must
equal the solo tour's. Each session uploads the photo with its own JPEG comment: other bytes (so no session gets
another's cached result), the same pixels (so the same numbers). The pictures on each page are then fetched as a
browser would. The server's RSS and CPU time are read all along. ``--server-env`` passes settings to the server
(e.g. ``STREAMLIT_RUNNER_POST_SCRIPT_GC=false``) to compare them; benchmarks/README.md has results.

``--port`` plays against a server or load balancer that is already running (benchmarks/scale_out.py starts
replicas behind nginx and uses this module); each session keeps its cookies, so a balancer's sticky cookie pins it
to one replica. ``--follow``: a session whose server goes away connects again, as the browser does, and goes on.
``--views`` adds the other view changes (a channel, the class, the opacity) to the tour.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.browser import ROOT, rss_mb, streamlit_server

DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)
# i18n keys of texts that may differ between two equal pages (durations computed from this server's measured speed)
VOLATILE = ("figure7.estimate", "landscape.live_estimate", "lesion.not_stored", "training_lab.recipe_note")
# ... and on the page of an interaction during which the session moved to another server: the photo was uploaded
# again on that page, which therefore does not say that it came from an earlier page
MOVED_VOLATILE = ("images.photo_from_elsewhere",)
XSRF_COOKIE = "_streamlit_xsrf"
MAIN = 0  # the first number of a delta path in the main area (1: the sidebar)
RSS_EVERY_S = 0.5


def default_photo() -> Path:
    """A photo nobody on the project chose: matplotlib's Grace Hopper when matplotlib is there."""
    try:
        import matplotlib

        hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        if hopper.is_file():
            return hopper
    except ImportError:
        pass
    return sorted((ROOT / "assets" / "samples" / "photos").glob("*.jpg"))[0]


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a comment segment after its start marker: other bytes, the same pixels."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file")
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


# ---------------------------------------------------------------- plain HTTP on loopback (uploads, pictures)

async def http(port: int, method: str, path: str, headers: dict[str, str] | None = None,
               body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request to 127.0.0.1:port on its own connection: (status, headers, body); a header that came
    several times (Set-Cookie) holds its values one a line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found: dict[str, str] = {}
    for name, _, value in (h.partition(":") for h in header_lines):  # headers said twice are joined by newlines
        key = name.strip().lower()
        found[key] = f"{found[key]}\n{value.strip()}" if key in found else value.strip()
    if "chunked" in found.get("transfer-encoding", ""):
        payload = _unchunk(payload)
    return int(status_line.split()[1]), found, payload


def _unchunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def multipart(name: str, data: bytes, content_type: str) -> tuple[str, bytes]:
    """A form with one file field named "file", as the browser's upload client sends it."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return f"multipart/form-data; boundary={boundary}", head + data + f"\r\n--{boundary}--\r\n".encode()


# ---------------------------------------------------------------- what one script run left on the page

def user_key(widget_id: str) -> str | None:
    """The key a page gave a widget: Streamlit's ids end with it (``$$ID-<hash>-<key>``)."""
    parts = widget_id.split("-", 2)
    return parts[2] if widget_id.startswith("$$ID-") and len(parts) == 3 else None


def widget_value(kind: str, w: Any) -> str:
    """What a selection widget shows now."""
    if kind in ("selectbox", "radio"):
        if w.set_value and w.HasField("raw_value"):
            return w.raw_value
        return w.options[w.default] if w.HasField("default") and w.default < len(w.options) else ""
    if kind == "multiselect":
        return ", ".join(w.raw_values if w.set_value else [w.options[i] for i in w.default])
    if kind == "slider":
        values = w.value if w.set_value else w.default
        return ", ".join(w.options[int(v)] if w.options else f"{v:g}" for v in values)
    return ""


def table_rows(df: Any) -> list[dict]:
    import pyarrow as pa

    data = df.arrow_data.data or df.lazy_data.initial_chunk.data
    return pa.ipc.open_stream(data).read_all().to_pylist() if data else []


def describe(el: Element) -> list[str]:
    """The element as text lines that two equal pages share (no ids that change per session)."""
    kind = el.WhichOneof("type")
    if kind is None:
        return []
    e: Any = getattr(el, kind)
    if kind in ("heading", "markdown", "text"):
        return [f"{kind}: {e.body}"]
    if kind == "alert":
        return [f"{Alert.Format.Name(e.format).lower()}: {e.body}"]
    if kind == "progress":
        return [f"progress {e.value}: {e.text}"]
    if kind == "metric":
        return [f"metric {e.label} = {e.body} {e.delta}".rstrip()]
    if kind == "dataframe":
        return [f"row {json.dumps(r, ensure_ascii=False, default=str)}" for r in table_rows(e)]
    if kind == "imgs":
        return [f"image {i.url} {i.caption}".rstrip() for i in e.imgs]
    if kind == "plotly_chart":
        return [f"chart {hashlib.sha256(e.spec.encode()).hexdigest()[:16]}"]
    if kind == "exception":
        return [f"exception {e.type}: {e.message}"]
    if kind in ("selectbox", "radio", "multiselect", "slider"):
        return [f"{kind} {e.label} = {widget_value(kind, e)}"]
    return []


@dataclass
class Page:
    """The final state of one script run: elements by delta path (later deltas replace earlier ones)."""

    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)
    widgets: dict[str, tuple[str, Any]] = field(default_factory=dict)  # user key -> (kind, proto)
    widget_ids: set[str] = field(default_factory=set)
    compile_error: str | None = None

    def add(self, path: tuple[int, ...], el: Element, shown: dict[str, Any]) -> None:
        """Keep ``el``; a selectbox or radio gets the value the browser shows (``shown``: widget id -> value)."""
        self.elements[path] = el
        kind = el.WhichOneof("type")
        w: Any = getattr(el, kind) if kind else None
        wid = getattr(w, "id", "")
        if kind is None or not isinstance(wid, str) or not wid:
            return
        self.widget_ids.add(wid)
        if kind in ("selectbox", "radio"):  # a value the server sets wins, else the browser keeps its own
            shown[wid] = w.raw_value if w.set_value else shown.get(wid) or widget_value(kind, w)
            w.raw_value, w.set_value = shown[wid], True
        if kind == "slider":  # the same for a slider (its values: numbers, or indices into its options)
            values = list(w.value) if w.set_value and len(w.value) else shown.get(wid) or list(w.default)
            shown[wid] = values
            del w.value[:]
            w.value.extend(values)
            w.set_value = True
        if key := user_key(wid):
            self.widgets[key] = (kind, w)

    def in_order(self) -> list[Element]:
        return [self.elements[p] for p in sorted(self.elements)]

    def lines(self, where: int = MAIN) -> list[str]:
        return [line for p in sorted(self.elements) if p[0] == where for line in describe(self.elements[p])]

    def errors(self) -> list[str]:
        return [f"st.error: {el.alert.body}" for el in self.in_order()
                if el.WhichOneof("type") == "alert" and el.alert.format == Alert.ERROR]

    def exceptions(self) -> list[str]:
        found = [f"{el.exception.type}: {el.exception.message}" for el in self.in_order()
                 if el.WhichOneof("type") == "exception"]
        return found + ([self.compile_error] if self.compile_error else [])

    def pictures(self) -> list[str]:
        return [i.url for el in self.in_order() if el.WhichOneof("type") == "imgs" for i in el.imgs.imgs
                if i.url.startswith("/")]

    def widget(self, key: str) -> tuple[str, Any]:
        if key not in self.widgets:
            raise LookupError(f"no widget keyed {key!r} on the page (keys: {', '.join(sorted(self.widgets))})")
        return self.widgets[key]

    def headline(self) -> dict[str, Any]:
        """The numbers a teacher would read off this page: top prediction, the chosen layer's and channel's
        figures, metrics, the first table."""
        out: dict[str, Any] = {}
        lines = self.lines()
        if top := next((x for x in lines if x.startswith("progress")), None):
            out["top"] = top.split(": ", 1)[1]
        if metrics := [x[len("metric "):] for x in lines if x.startswith("metric ")]:
            out["metrics"] = metrics
        if rows := [x[len("row "):] for x in lines if x.startswith("row ")]:
            out["table"] = rows
        for key, (kind, w) in sorted(self.widgets.items()):
            if key.endswith(("_layer", "_target")) or "_channel_" in key:
                label = widget_value(kind, w)
                out[key] = label if label in w.options else f"{label} (no longer an option)"
        return out


# ---------------------------------------------------------------- one browser tab, spoken to over the protocol

class Session:
    """One student's tab: a websocket to ``/_stcore/stream``, the cookies and the widget states a browser would keep.

    Behind a load balancer the cookies include the one that pins the tab to its replica (deploy/nginx/); when that
    replica goes away, ``reopen`` connects again as the browser does, and the balancer picks another.
    """

    def __init__(self, port: int, timeout: float, agent: str = "class_load") -> None:
        self.port, self.timeout = port, timeout
        self.agent = agent  # the User-Agent: a balancer's access log tells the sessions apart by it
        self.ws: ClientConnection | None = None
        self.cookies: dict[str, str] = {}
        self.photo: tuple[str, bytes] | None = None  # the last file this tab uploaded: (name, bytes)
        self.session_id = ""
        self.query = "lang=en"
        self.pages: dict[str, str] = {}  # url path ("" for the default page) -> page script hash
        self.current = ""  # the url path of the page shown
        self.states: dict[str, WidgetState] = {}  # values this tab set (uploads, clicks, picks)
        self.shown: dict[str, Any] = {}  # widget id -> the label a selectbox or radio shows, a slider's values
        self.page = Page()
        self._run_done: asyncio.Future[Page] | None = None
        self._urls: dict[str, asyncio.Future[ForwardMsg]] = {}
        self._reader: asyncio.Task | None = None

    @property
    def xsrf(self) -> str:
        return self.cookies.get(XSRF_COOKIE, "")

    @property
    def closed(self) -> bool:
        """True once the websocket has closed (the server went away, or ``close``)."""
        return self._reader is not None and self._reader.done()

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    async def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None,
                      body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        """An HTTP request with this tab's cookies; the cookies the answer sets are kept."""
        status, found, payload = await http(self.port, method, path, {"User-Agent": self.agent,
                                                                     **self._cookie_header(), **(headers or {})}, body)
        for line in filter(None, found.get("set-cookie", "").split("\n")):
            name, _, value = line.split(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return status, found, payload

    async def open(self) -> None:
        status, _, _ = await self.request("/_stcore/health")
        if status != 200:
            raise ConnectionError(f"health check answered {status}")
        # the browser's handshake: the XSRF token as the second subprotocol and, when it connects again, its last
        # session id as the third (a server that does not know it starts a new session); the cookies; no pings
        protocols = ["streamlit", self.xsrf, *([self.session_id] if self.session_id else [])]
        self.ws = await connect(f"ws://127.0.0.1:{self.port}/_stcore/stream",
                                subprotocols=[Subprotocol(p) for p in protocols],
                                additional_headers=self._cookie_header(), user_agent_header=self.agent,
                                max_size=None, ping_interval=None, open_timeout=self.timeout)
        self._reader = asyncio.create_task(self._read())

    async def reopen(self, every_s: float = 0.5) -> None:
        """Connect again after the server went away, as the browser does: ask for the health check until a server
        answers (behind the balancer: another replica), then open a new websocket; its session is a new one."""
        await self.close()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                await self.open()
                return
            except (OSError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(every_s)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data if isinstance(data, bytes) else data.encode())
                self._handle(msg)
        except Exception as exc:  # the connection dropped: whoever waits learns why
            self._fail(ConnectionError(f"websocket closed: {exc!r}"))
        else:
            self._fail(ConnectionError("websocket closed by the server"))

    def _fail(self, exc: Exception) -> None:
        for fut in [self._run_done, *self._urls.values()]:
            if fut is not None and not fut.done():
                fut.set_exception(exc)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            self.page = Page()
        elif kind == "navigation":
            self.pages = {("" if p.is_default else p.url_pathname): p.page_script_hash
                          for p in msg.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self.page.add(tuple(msg.metadata.delta_path), msg.delta.new_element, self.shown)
        elif kind == "session_event" and msg.session_event.WhichOneof("type") == "script_compilation_exception":
            ex = msg.session_event.script_compilation_exception
            self.page.compile_error = f"{ex.type}: {ex.message}"
        elif kind == "file_urls_response" and msg.file_urls_response.response_id in self._urls:
            self._urls.pop(msg.file_urls_response.response_id).set_result(msg)
        elif kind == "script_finished" and msg.script_finished in DONE:
            if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:  # the browser forgets widgets not drawn
                self.states = {k: v for k, v in self.states.items() if k in self.page.widget_ids}
                self.shown = {k: v for k, v in self.shown.items() if k in self.page.widget_ids}
            if self._run_done is not None and not self._run_done.done():
                self._run_done.set_result(self.page)

    async def _send(self, msg: BackMsg) -> None:
        assert self.ws is not None, "open() first"
        await self.ws.send(msg.SerializeToString())

    async def rerun(self, *, page: str | None = None, states: Sequence[WidgetState] = ()) -> Page:
        """One rerun_script, as the browser sends it; returns the page once the run has finished."""
        for s in states:
            self.states[s.id] = s
            if s.WhichOneof("value") == "string_value":
                self.shown[s.id] = s.string_value
            elif s.WhichOneof("value") == "double_array_value":
                self.shown[s.id] = list(s.double_array_value.data)
            elif s.WhichOneof("value") == "string_array_value" and s.id in self.page.widget_ids:
                options = next(w for _, w in self.page.widgets.values() if w.id == s.id).options
                self.shown[s.id] = [float(list(options).index(v)) for v in s.string_array_value.data]
        msg = BackMsg()
        cs = msg.rerun_script
        if page is not None:  # a click in the page menu: that page's hash, no query string
            cs.page_script_hash = self.pages.get(page, "")
            cs.page_name = page if page not in self.pages else ""
            self.query = ""
        else:
            cs.page_script_hash = self.pages.get(self.current, "")
        cs.query_string = self.query
        cs.context_info.locale = "en-US"
        cs.context_info.timezone = "UTC"
        # the browser sends back every value it holds: the labels its selectboxes and radios show, then the rest
        held = {wid: WidgetState(id=wid, string_value=label) for wid, label in self.shown.items()
                if isinstance(label, str)}  # a slider's values are in self.states
        cs.widget_states.widgets.extend({**held, **self.states}.values())
        self.states = {k: v for k, v in self.states.items() if v.WhichOneof("value") != "trigger_value"}
        done = self._run_done = asyncio.get_running_loop().create_future()
        if page is not None:
            self.current = page
        try:
            await self._send(msg)
        except BaseException:
            done.cancel()  # nobody will wait for it (else asyncio warns of an exception never retrieved)
            raise
        return await asyncio.wait_for(done, self.timeout)

    async def choose(self, key: str, index: int) -> Page:
        """Pick option ``index`` of a selectbox or radio (negative: from the end)."""
        kind, w = self.page.widget(key)
        state = WidgetState(id=w.id)
        if kind == "slider":
            state.string_array_value.data.append(w.options[index])
        else:
            state.string_value = w.options[index]
        return await self.rerun(states=[state])

    async def slide(self, key: str, value: float) -> Page:
        """Move a numeric slider to ``value``."""
        _, w = self.page.widget(key)
        state = WidgetState(id=w.id)
        state.double_array_value.data.append(value)
        return await self.rerun(states=[state])

    async def press(self, key: str) -> Page:
        _, w = self.page.widget(key)
        return await self.rerun(states=[WidgetState(id=w.id, trigger_value=True)])

    async def upload(self, key: str, name: str, data: bytes, content_type: str = "image/jpeg") -> Page:
        """The browser's upload: ask for URLs, PUT the file there, rerun with the uploader's new state."""
        _, w = self.page.widget(key)
        msg = BackMsg()
        request_id = uuid.uuid4().hex
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.append(name)
        asked = self._urls[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self._send(msg)
        except BaseException:
            self._urls.pop(request_id).cancel()
            raise
        answer = (await asyncio.wait_for(asked, self.timeout)).file_urls_response
        if answer.error_msg or not answer.file_urls:
            raise RuntimeError(f"no upload URL: {answer.error_msg}")
        urls = answer.file_urls[0]
        form_type, body = multipart(name, data, content_type)
        status, _, text = await asyncio.wait_for(self.request(urls.upload_url, "PUT", {
            "Content-Type": form_type, "X-Xsrftoken": self.xsrf}, body), self.timeout)
        if status != 204:
            raise RuntimeError(f"upload answered {status}: {text[:200]!r}")
        self.photo = (name, data)
        state = WidgetState(id=w.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        return await self.rerun(states=[state])

    async def fetch_pictures(self) -> list[str]:
        """GET every picture of the page, as the browser does after a run; the failures."""
        failed = []
        for url in self.page.pictures():
            status, _, _ = await asyncio.wait_for(self.request(url), self.timeout)
            if status != 200:
                failed.append(f"picture {url} answered {status}")
        return failed


# ---------------------------------------------------------------- the tour

Step = tuple[str, Callable[[Session, bytes], Awaitable[Page]]]
PHOTO_NAME = "photo.jpg"


async def _figure7_live(s: Session, _: bytes) -> Page:
    kind, w = s.page.widgets.get("figure7_images", ("", None))
    if kind == "slider" and widget_value(kind, w) != w.options[0]:  # the fewest images the page offers
        await s.choose("figure7_images", 0)
    return await s.press("figure7_recompute")


TOUR: list[Step] = [
    ("home", lambda s, _: s.rerun(page="")),
    ("feature_maps", lambda s, _: s.rerun(page="feature_maps")),
    ("feature_maps_upload", lambda s, photo: s.upload("feature_maps_image_upload", PHOTO_NAME, photo)),
    ("feature_maps_layer", lambda s, _: s.choose("feature_maps_layer", 1)),
    ("feature_maps_layer", lambda s, _: s.choose("feature_maps_layer", -1)),
    ("attribution", lambda s, _: s.rerun(page="attribution")),
    ("attribution_upload", lambda s, photo: s.upload("attribution_upload", PHOTO_NAME, photo)),
    ("figure7", lambda s, _: s.rerun(page="figure7")),
    ("figure7_recompute", _figure7_live),
    ("gradient_flow", lambda s, _: s.rerun(page="gradient_flow")),
]
SHORT_TOUR = TOUR[:4] + TOUR[5:7]  # no second layer change, no paper pages: the test's tour


async def _channel(s: Session, _: bytes) -> Page:
    key = next(k for k in s.page.widgets if k.startswith("feature_maps_channel_"))  # the shown layer's channel
    return await s.choose(key, 1)


# The tour with the other view changes a student makes on cached results: a channel, the class, the opacity.
VIEWS_TOUR = TOUR[:5] + [("feature_maps_channel", _channel)] + TOUR[5:7] + [
    ("attribution_class", lambda s, _: s.choose("attribution_target", 1)),
    ("attribution_opacity", lambda s, _: s.slide("attribution_alpha", 0.8)),
] + TOUR[7:]
VIEW_CHANGES = ("feature_maps_layer", "feature_maps_channel", "attribution_class", "attribution_opacity")


@dataclass
class Outcome:
    session: int
    step: str
    seconds: float | None = None  # rerun sent -> script finished (None: it never finished)
    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # protocol: timeouts, dropped connections, HTTP errors
    wrong: str | None = None  # the first line that differs from the solo tour
    pictures: int = 0  # fetched after the run
    moves: int = 0  # times the session's server went away during this interaction and it went on on another
    lines: list[str] = field(default_factory=list, repr=False)
    headline: dict[str, Any] = field(default_factory=dict)


MOVES_PER_STEP = 2
NOTICE_S = 0.3  # how long a failed request waits for the websocket to tell whether the server went away


PHOTO_PAGE = "feature_maps"  # where a student who lost their photo uploads it again


def photo_uploader(page: Page) -> str | None:
    """The key of the page's uploader for pictures (not for checkpoints), if it has one."""
    return next((key for key, (kind, w) in page.widgets.items()
                 if kind == "file_uploader" and any(t.lstrip(".").lower() == "jpg" for t in w.type)), None)


async def _move(s: Session) -> None:
    """The tab's server went away: connect again (behind a balancer, to another replica) and rerun the page with the
    values the browser holds. The new server has not got the photo uploaded in this visit: the page shows a sample
    instead, and the student uploads the photo again: here, or on Feature maps when this page has no uploader
    (Figure 7 uses the photo of another page), coming back afterwards."""
    await s.reopen()
    page = await s.rerun()
    if s.photo is None:
        return
    if (key := photo_uploader(page)) is not None:
        await s.upload(key, *s.photo)
        return
    here = s.current
    page = await s.rerun(page=PHOTO_PAGE)
    if (key := photo_uploader(page)) is not None:
        await s.upload(key, *s.photo)
    await s.rerun(page=here)


async def _went_away(s: Session) -> bool:
    await asyncio.sleep(NOTICE_S)
    return s.closed


async def run_tour(port: int, number: int, photo: bytes, tour: list[Step], timeout: float,
                   fetch: bool = True, follow: bool = False) -> list[Outcome]:
    """One session walks ``tour``; it stops at the first interaction that fails (the rest depend on it). With
    ``follow``, a session whose server goes away connects again and repeats the interaction (``_move``)."""
    s, out = Session(port, timeout, agent=f"class_load student {number}"), []
    try:
        await s.open()
    except Exception as exc:
        return [Outcome(number, tour[0][0], failures=[f"connect: {exc!r}"])]
    try:
        for name, act in tour:
            o = Outcome(number, name)
            out.append(o)
            t0 = time.perf_counter()
            while True:
                try:
                    page = await act(s, photo)
                except Exception as exc:
                    page, failed = None, [f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)]
                else:
                    o.seconds = time.perf_counter() - t0  # the pictures are fetched after the run, not timed
                    try:
                        failed = await s.fetch_pictures() if fetch else []
                    except Exception as exc:
                        failed = [f"pictures: {exc!r}"]
                if not (failed and follow and o.moves < MOVES_PER_STEP and await _went_away(s)):
                    break
                o.moves += 1
                try:
                    await _move(s)
                except Exception as exc:
                    page, failed = None, [f"moving to another server: {type(exc).__name__}: {exc}"]
                    break
            if page is None:
                o.seconds, o.failures = None, failed
                break
            o.errors, o.exceptions, o.failures = page.errors(), page.exceptions(), failed
            o.lines, o.headline = page.lines(), page.headline()
            o.pictures = len(page.pictures()) if fetch else 0
    finally:
        await s.close()
    return out


def volatile_lines(keys: Sequence[str] | None = None) -> re.Pattern[str]:
    """Texts left out of the check: by default those that say how fast this server has been (they change as it
    measures itself), ``VOLATILE``."""
    from resnet_viz.i18n import catalogue

    texts = catalogue("en")
    templates = [texts[k] for k in (VOLATILE if keys is None else keys) if k in texts]
    alternatives = ["".join(".*?" if i % 2 else re.escape(part) for i, part in enumerate(re.split(r"({[^}]*})", t)))
                    for t in templates]
    return re.compile(r"[^:]*: (?:" + "|".join(alternatives or ["(?!)"]) + r")$", re.S)  # after describe's "kind: "


def compare(outcomes: list[Outcome], reference: list[Outcome]) -> None:
    """Mark every interaction whose page differs from the solo tour's same interaction."""
    still, moved = volatile_lines(), volatile_lines((*VOLATILE, *MOVED_VOLATILE))
    by_session: dict[int, list[Outcome]] = {}
    for o in outcomes:
        by_session.setdefault(o.session, []).append(o)
    for tour in by_session.values():
        has_moved = False
        for o, ref in zip(tour, reference):
            has_moved = has_moved or o.moves > 0
            skip = moved if has_moved else still
            mine, alone = ([x for x in lines if not skip.match(x)] for lines in (o.lines, ref.lines))
            if o.seconds is None or mine == alone:
                continue
            diff = next(((a, b) for a, b in zip(mine, alone) if a != b), None)
            if has_moved and diff is None and len(mine) < len(alone):
                continue  # the new server has not yet what the old one had computed (a result still in its queue)
            o.wrong = f"{diff[0]!r} where alone {diff[1]!r}" if diff else f"{len(mine)} lines where alone {len(alone)}"


# ---------------------------------------------------------------- the server's memory and CPU, the report

def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """The servers' resident memory (and CPU time) every RSS_EVERY_S seconds, in the background of the event loop;
    a server that has gone counts with nothing, and with the CPU time it had used when last seen."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.samples: list[tuple[float, list[float]]] = []  # (seconds since the sampler started, MB per server)
        self._cpu = dict.fromkeys(self.pids, 0.0)
        self._t0 = time.monotonic()
        self._task: asyncio.Task | None = None

    def now(self) -> float:
        """The servers' RSS now, in all (MB)."""
        per = []
        for pid in self.pids:
            try:
                per.append(rss_mb(pid))
                self._cpu[pid] = cpu_seconds(pid)
            except OSError:  # the process has gone
                per.append(float("nan"))
        self.samples.append((self.elapsed(), per))
        return sum(mb for mb in per if mb == mb) if per else float("nan")

    def cpu(self) -> float:
        """The servers' CPU seconds, in all, as last seen."""
        self.now()
        return sum(self._cpu.values())

    def peak_each(self, since: float) -> list[float]:
        """Each server's highest RSS since ``since`` (MB)."""
        rows = [per for t, per in self.samples if t >= since]
        return [max((r[i] for r in rows if r[i] == r[i]), default=float("nan")) for i in range(len(self.pids))]

    async def _loop(self) -> None:
        while True:
            self.now()
            await asyncio.sleep(RSS_EVERY_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def peak(self, since: float) -> float:
        """The highest RSS of all servers together since ``since`` (MB)."""
        totals = [sum(mb for mb in per if mb == mb) for t, per in self.samples if t >= since and per]
        return max(totals, default=float("nan"))

    def elapsed(self) -> float:
        return time.monotonic() - self._t0


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summary(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Per interaction type: how many, how many finished, p50/p95/max seconds and the counts of what went wrong."""
    rows: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(o.step for o in outcomes):
        mine = [o for o in outcomes if o.step == name]
        times = sorted(o.seconds for o in mine if o.seconds is not None)
        rows[name] = {"n": len(mine), "finished": len(times), "p50_s": percentile(times, 50),
                      "p95_s": percentile(times, 95), "max_s": max(times, default=float("nan")),
                      "errors": sum(len(o.errors) for o in mine), "exceptions": sum(len(o.exceptions) for o in mine),
                      "wrong": sum(o.wrong is not None for o in mine), "failures": sum(len(o.failures) for o in mine),
                      "moves": sum(o.moves for o in mine), "pictures": sum(o.pictures for o in mine)}
    return rows


def problems(outcomes: list[Outcome]) -> list[str]:
    out = []
    for o in outcomes:
        for kind, items in (("error", o.errors), ("exception", o.exceptions), ("failure", o.failures),
                            ("wrong", [o.wrong] if o.wrong else [])):
            out += [f"session {o.session} {o.step}: {kind}: {item[:300]}" for item in items]
    return out


def print_report(result: dict[str, Any]) -> None:
    servers = len(result["rss_mb_each"].get("peak", [])) or 1
    where = "one server" if servers == 1 else f"{servers} servers"
    print(f"\n{result['sessions']} concurrent sessions on {where}; photo {result['photo']}; "
          f"{result['wall_s']:.0f} s for the concurrent tours (server CPU {result['server_cpu_s']:.0f} s, "
          f"this client's {result['client_cpu_s']:.1f} s)")
    head = (f"{'interaction':<22}{'n':>4}{'done':>6}{'alone s':>9}{'p50 s':>9}{'p95 s':>9}{'max s':>9}"
            f"{'errors':>8}{'exc.':>6}{'wrong':>7}{'failed':>8}{'moved':>7}")
    print(head + "\n" + "-" * len(head))
    for name, r in result["interactions"].items():
        alone = result["solo"].get(name, {}).get("p50_s", float("nan"))
        print(f"{name:<22}{r['n']:>4}{r['finished']:>6}{alone:>9.2f}{r['p50_s']:>9.2f}{r['p95_s']:>9.2f}"
              f"{r['max_s']:>9.2f}{r['errors']:>8}{r['exceptions']:>6}{r['wrong']:>7}{r['failures']:>8}"
              f"{r['moves']:>7}")
    print("server RSS (MB): " + ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in result["rss_mb"].items()))
    if servers > 1:
        print("each server's peak RSS (MB): " + " / ".join(f"{mb:.0f}" for mb in result["rss_mb_each"]["peak"]))
    for line in result["problems"][:20]:
        print("  " + line)
    if len(result["problems"]) > 20:
        print(f"  ... {len(result['problems']) - 20} more (--json-out has them all)")


# ---------------------------------------------------------------- the whole run

async def bounded(tour: Awaitable[list[Outcome]], until: float, number: int, step: str) -> list[Outcome]:
    """``tour``, or a failed outcome when the global deadline (a time.monotonic() value) comes first."""
    try:
        return await asyncio.wait_for(tour, max(1.0, until - time.monotonic()))
    except TimeoutError:
        return [Outcome(number, step, failures=["the global deadline passed"])]


async def class_tours(port: int, args: argparse.Namespace, photo: bytes, tour: list[Step],
                      until: float) -> list[Outcome]:
    """``args.sessions`` tours at once, each session with its own bytes of the photo (unless ``--same-photo``)."""
    fetch = not args.skip_pictures
    tasks = [bounded(run_tour(port, i, photo if args.same_photo else with_comment(photo, f"student {i}"), tour,
                              args.timeout, fetch, args.follow), until, i, tour[0][0])
             for i in range(1, args.sessions + 1)]
    return [o for result in await asyncio.gather(*tasks) for o in result]


async def class_run(port: int, pids: Sequence[int], args: argparse.Namespace, photo: bytes,
                    tour: list[Step], during: Callable[[], Coroutine[Any, Any, Any]] | None = None) -> dict[str, Any]:
    """A first visitor (home: the server imports torch), the solo tour, then ``args.sessions`` tours at once
    (``during()`` alongside them, e.g. a replica stopped mid-run). ``pids``: the server processes behind ``port``,
    whose memory and CPU are read."""
    until = time.monotonic() + args.deadline
    first = tour[0][0]
    rss = RssSampler(pids)
    figures = {"started": rss.now()}
    rss.start()
    probe = await bounded(run_tour(port, -1, photo, tour[:1], args.timeout, fetch=False), until, -1, first)
    await asyncio.sleep(args.settle)
    figures["after_import"] = rss.now()
    solo_photo = with_comment(photo, "solo")
    solo = await bounded(run_tour(port, 0, solo_photo, tour, args.timeout, not args.skip_pictures), until, 0, first)
    await asyncio.sleep(args.settle)
    figures["after_solo"] = rss.now()
    solo_ok = len(solo) == len(tour) and not problems(solo)
    started, cpu0, client0, t0 = rss.elapsed(), rss.cpu(), time.process_time(), time.perf_counter()
    side = asyncio.create_task(during()) if during is not None and solo_ok else None
    outcomes = await class_tours(port, args, photo, tour, until) if solo_ok else []
    wall, server_cpu, client_cpu = time.perf_counter() - t0, rss.cpu() - cpu0, time.process_time() - client0
    if side is not None:
        await side
    figures["peak"] = rss.peak(since=started)
    peak_each = rss.peak_each(since=started)
    await asyncio.sleep(args.settle)
    figures["after_run"] = rss.now()
    if args.linger > 0:  # past server.disconnectedSessionTTL, then one visitor (the storage expires lazily)
        await asyncio.sleep(args.linger)
        probe += await bounded(run_tour(port, -1, photo, tour[:1], args.timeout, fetch=False), until, -1, first)
        await asyncio.sleep(args.settle)
        figures["after_linger"] = rss.now()
    rss.stop()
    compare(outcomes, solo)
    return {"sessions": args.sessions, "photo": str(args.photo), "server_env": args.server_env, "wall_s": wall,
            "server_cpu_s": server_cpu, "client_cpu_s": client_cpu, "interactions": summary(outcomes),
            "solo": summary(solo), "rss_mb": figures, "rss_mb_each": {"peak": peak_each},
            "problems": [f"(alone) {p}" for p in problems(probe + solo)] + problems(outcomes)
            + ([] if solo_ok else ["the solo tour failed: no concurrent tours were run"]),
            "solo_headlines": [{"step": o.step, **o.headline} for o in solo],
            "rss_samples": [(round(t, 1), [round(mb) if mb == mb else None for mb in per]) for t, per in rss.samples],
            "outcomes": [{k: v for k, v in asdict(o).items() if k != "lines"} for o in outcomes]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=30, help="concurrent sessions (default 30)")
    p.add_argument("--timeout", type=float, default=300, help="seconds one interaction may take (default 300)")
    p.add_argument("--deadline", type=float, default=3600, help="seconds the whole run may take (default 3600)")
    p.add_argument("--photo", type=Path, default=None, help="the JPEG to upload (default: matplotlib's Grace Hopper)")
    p.add_argument("--same-photo", action="store_true", help="every session uploads the very same bytes")
    p.add_argument("--skip-pictures", action="store_true", help="do not fetch the pictures of each page")
    p.add_argument("--short", action="store_true", help="the test's short tour")
    p.add_argument("--views", action="store_true",
                   help="the tour with more view changes (a channel, the class, the opacity)")
    p.add_argument("--port", type=int,
                   help="play against the server or load balancer already listening on 127.0.0.1:PORT (no RSS)")
    p.add_argument("--follow", action="store_true",
                   help="a session whose server goes away connects again and goes on, as a browser does behind a "
                        "load balancer")
    p.add_argument("--settle", type=float, default=3.0, help="quiet seconds before an RSS figure is read (default 3)")
    p.add_argument("--linger", type=float, default=0.0,
                   help="after the run, wait this long, open one more session and read the RSS again (e.g. 130: "
                        "longer than server.disconnectedSessionTTL, 120 s, for which closed sessions are kept)")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable for the server, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    p.add_argument("--json-out", type=Path, help="write the whole result (every interaction) here")
    args = p.parse_args(argv)
    args.photo = args.photo or default_photo()
    return args


def chosen_tour(args: argparse.Namespace) -> list[Step]:
    return SHORT_TOUR if args.short else VIEWS_TOUR if args.views else TOUR


def serve_and_run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the app as a fresh deploy (an empty HOME: no torch hub cache, no ~/.streamlit), run, stop it; or play
    against the server on ``--port``."""
    photo = args.photo.read_bytes()
    if args.port:
        result = asyncio.run(class_run(args.port, [], args, photo, chosen_tour(args)))
        return {**result, "server_alive": True}
    with tempfile.TemporaryDirectory(prefix="class-load-home-") as home:
        env = {"HOME": home, "XDG_CACHE_HOME": str(Path(home) / ".cache"),
               **dict(item.split("=", 1) for item in args.server_env)}
        with streamlit_server(env) as (url, proc):
            port = int(url.rsplit(":", 1)[1])
            result = asyncio.run(class_run(port, [proc.pid], args, photo, chosen_tour(args)))
            result["server_alive"] = proc.poll() is None
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = serve_and_run(args)
    print_report(result)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return 1 if result["problems"] or not result["server_alive"] else 0


if __name__ == "__main__":
    sys.exit(main())
