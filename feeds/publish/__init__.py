"""Publishing: quantam's own feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1), the OPML list of them, and
WebSub pings to the hub when they change."""
