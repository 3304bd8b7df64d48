#!/usr/bin/python3
"""status-dom.py DOM_FILE BUILD_ID: the values (comma-separated) the status page's progress bar
showed for that build, from its data-seen attribute in the DOM headless Chromium dumped."""
import html.parser
import sys


class Page(html.parser.HTMLParser):
    row = False
    seen = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.row = a.get("id") == "b-" + sys.argv[2]
        if self.row and self.seen is None and "fill" in (a.get("class") or "").split():
            self.seen = a.get("data-seen", "")


p = Page()
p.feed(open(sys.argv[1], encoding="utf-8").read())
print(p.seen or "")
