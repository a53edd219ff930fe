"""The facilitator blacks out the projector and brings it back, sees how many screens are
showing, and can preview the screen inside the panel (the only page that may be framed)."""

from pathlib import Path

from support import Client, Server, run


def test_black_screen_screen_count_and_preview(tmp_path: Path) -> None:
    server = Server(tmp_path / "w.db").start()

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        screens = [await Client(server, "screen").login().connect() for _ in range(2)]
        preview = Client(server, "screen").login()
        page = preview.http.get("/screen?preview=1")
        assert 'data-ws="/ws?as=screen&amp;preview=1"' in page.text
        preview_socket = await _connect_preview(preview)
        await facilitator.wait_for(lambda: "2 écrans" in facilitator.regions["chrome"])

        assert (await facilitator.act("toggle_blackout"))["ok"]
        for screen in screens:
            await screen.wait_for(lambda s=screen: 'class="blackout"' in s.regions["chrome"])
        # the panel's view and the screens' are written in the same tick; read in any order
        await facilitator.wait_for(lambda: "Rallumer l’écran" in facilitator.regions["chrome"])
        assert (await facilitator.act("toggle_blackout"))["ok"]
        for screen in screens:
            await screen.wait_for(lambda s=screen: "blackout" not in s.regions["chrome"])

        refused = await screens[0].act("toggle_blackout")
        assert refused["error"]["code"] == "forbidden"
        await preview_socket.close()
        for client in (facilitator, *screens):
            await client.close()

    async def _connect_preview(client: Client):  # type: ignore[no-untyped-def]
        import websockets

        ws = server.base.replace("http", "ws", 1) + "/ws?as=screen&preview=1"
        return await websockets.connect(ws, origin=server.base,
                                        additional_headers={"Cookie": client.cookie_header()})

    try:
        run(main())
        facilitator = Client(server, "facilitator").login()
        panel = facilitator.http.get("/facilitator")
        screen = facilitator.http.get("/screen")
        assert panel.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in panel.headers["content-security-policy"]
        assert 'src="/screen?preview=1"' in panel.text
        assert screen.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in screen.headers["content-security-policy"]
    finally:
        server.stop()
