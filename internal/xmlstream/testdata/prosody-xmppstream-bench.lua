-- Throughput of Prosody's stream parser (util.xmppstream over LuaExpat) on
-- the stanzas BenchmarkReadElement uses, for comparison with parley's
-- decoder. Run from internal/xmlstream with Prosody installed:
--   lua5.4 testdata/prosody-xmppstream-bench.lua
-- It feeds the stream in 4 KiB chunks, as reads from a socket would arrive,
-- and builds Prosody's stanza objects, which is what Prosody routes.
package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath

local xmppstream = require "util.xmppstream"

local header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " ..
	"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>"

local function bench(name, file, count)
	local f = assert(io.open(file, "rb"))
	local stanza = f:read("a")
	f:close()
	local block = string.rep(stanza, 64)
	local chunks = {}
	for i = 1, #block, 4096 do
		chunks[#chunks + 1] = block:sub(i, i + 4095)
	end
	local seen = 0
	local session = { notopen = true }
	local callbacks = {
		stream_ns = "http://etherx.jabber.org/streams",
		default_ns = "jabber:client",
		streamopened = function(s) s.notopen = nil end,
		handlestanza = function() seen = seen + 1 end,
		error = function(_, err, data) error(tostring(err) .. " " .. tostring(data)) end,
	}
	local stream = xmppstream.new(session, callbacks, 1 << 40)
	assert(stream:feed(header))
	local rounds = math.ceil(count / 64)
	local t0 = os.clock()
	for _ = 1, rounds do
		for i = 1, #chunks do
			assert(stream:feed(chunks[i]))
		end
	end
	local dt = os.clock() - t0
	assert(seen == rounds * 64, "parsed " .. seen)
	print(string.format("%-18s %8.0f ns/op %7.2f MB/s (%d stanzas)",
		name, dt / seen * 1e9, #stanza * seen / dt / 1e6, seen))
end

bench("message", "testdata/bench-message.xml", 200000)
bench("presence-muc-2KB", "testdata/bench-presence-muc.xml", 40000)
