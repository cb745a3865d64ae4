// Reads feed files with rss-parser and prints what it understood, as JSON, for the Python tests.
import { readFileSync } from "node:fs";
import Parser from "rss-parser";

const parser = new Parser({
  customFields: {
    feed: [["atom:link", "atomLinks", { keepArray: true }], ["link", "links", { keepArray: true }]],
    item: [
      ["media:thumbnail", "thumbnail"],
      ["media:content", "mediaContent"],
      ["atom:link", "atomLinks", { keepArray: true }],
      ["link", "links", { keepArray: true }],
    ],
  },
});

const attrs = (nodes) => (nodes || []).filter((n) => n && n.$).map((n) => n.$);

const result = {};
for (const path of process.argv.slice(2)) {
  const feed = await parser.parseString(readFileSync(path, "utf8"));
  result[path] = {
    title: feed.title,
    link: feed.link,
    language: feed.language,
    links: [...attrs(feed.atomLinks), ...attrs(feed.links)],
    items: feed.items.map((item) => ({
      title: item.title,
      link: item.link,
      guid: item.guid ?? item.id,
      isoDate: item.isoDate,
      creator: item.creator ?? item.author,
      categories: item.categories,
      enclosure: item.enclosure,
      thumbnail: item.thumbnail?.$?.url,
      content: item["content:encoded"] ?? item.content,
      links: [...attrs(item.atomLinks), ...attrs(item.links)],
    })),
  };
}
process.stdout.write(JSON.stringify(result));
