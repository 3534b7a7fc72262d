"""``synapsenet playground``: the browser playground, served from this machine."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("playground", help="watch a network (and a chip) learn in the browser",
                       description="Serve the playground: pick a 2-D dataset, features, "
                       "layers, activation, loss and learning mode, press play and watch the "
                       "decision boundary form; run the network on a simulated chip or train "
                       "it there. Everything runs on this machine; the page needs no "
                       "network. The configuration lives in the page's URL: share it.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                   "another address lets other machines in, with a warning)")
    p.add_argument("--port", type=int, default=8000,
                   help="port to listen on (default 8000; 0: any free port)")
    p.add_argument("--no-browser", action="store_true",
                   help="print the URL without opening a browser")


def run(args) -> int:
    from ..playground import serve

    serve(args.host, args.port, open_browser=not args.no_browser)
    return 0
