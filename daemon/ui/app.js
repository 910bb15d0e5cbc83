/*
 * Conclave's web UI: one page, hash routes, plain DOM and fetch.
 *
 *   #/nodes            nodes and their health        #/nodes/NAME     one node
 *   #/services         services and instances        #/services/NAME  one service
 *   #/kv/PREFIX/       a KV folder (create, delete)  #/kv/KEY         a key (edit, delete)
 *   #/raft             the Raft servers, voter and leader state
 *
 * Every view is refreshed every POLL_MS from the agent's HTTP API, never from
 * anywhere else. An API error is shown in the error bar as "METHOD PATH: status
 * body" (e.g. "500 No cluster leader"), never swallowed. Elements carry stable
 * ids and data- attributes (data-leader, data-node, data-health, data-key, ...)
 * that tests read.
 */
'use strict';

(function () {
	const POLL_MS = 2000;
	const RANK = { passing: 0, warning: 1, critical: 2, maintenance: 2 };

	/* ---- DOM helpers ---- */

	function h(tag, props, ...kids) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(props || {})) {
			if (v === undefined || v === null || v === false)
				continue;
			if (k === 'class')
				e.className = v;
			else if (k === 'text')
				e.textContent = v;
			else if (k.startsWith('on'))
				e.addEventListener(k.slice(2), v);
			else
				e.setAttribute(k, v === true ? '' : String(v));
		}
		for (const c of kids.flat(Infinity)) {
			if (c !== null && c !== undefined && c !== false)
				e.append(c instanceof Node ? c : String(c));
		}
		return e;
	}

	function byId(id) {
		return document.getElementById(id);
	}

	function badge(status) {
		return h('span', { class: 'badge ' + status, 'data-status': status }, status);
	}

	function worst(checks) {
		let w = null;
		for (const c of checks) {
			const s = RANK[c.Status] === undefined ? 'critical' : c.Status;
			if (w === null || RANK[s] > RANK[w])
				w = s;
		}
		return w || 'none';
	}

	function countBy(checks) {
		const n = { passing: 0, warning: 0, critical: 0 };
		for (const c of checks)
			n[c.Status === 'passing' || c.Status === 'warning' ? c.Status : 'critical']++;
		return n;
	}

	function checkCounts(checks) {
		const n = countBy(checks);
		const parts = [];
		for (const s of ['passing', 'warning', 'critical'])
			if (n[s])
				parts.push(h('span', { class: 'count ' + s }, n[s] + ' ' + s));
		return parts.length ? parts : h('span', { class: 'muted' }, 'no checks');
	}

	function table(cls, headers, rows, empty) {
		if (!rows.length)
			return h('p', { class: 'empty' }, empty);
		return h('table', { class: 'grid ' + cls },
			h('thead', null, h('tr', null, headers.map(t => h('th', null, t)))),
			h('tbody', null, rows));
	}

	function tags(list) {
		return (list || []).map(t => h('span', { class: 'tag' }, t));
	}

	function link(href, text, props) {
		return h('a', Object.assign({ href: href }, props || {}), text);
	}

	function enc(s) {
		return encodeURIComponent(s);
	}

	/* A KV key in a URL or a hash: each segment escaped, the slashes kept. */
	function encKey(k) {
		return k.split('/').map(encodeURIComponent).join('/');
	}

	/* ---- the API ---- */

	class ApiError extends Error {
		constructor(method, path, status, body) {
			super(method + ' ' + path + ': ' + status + (body ? ' ' + body.trim() : ''));
			this.status = status;
		}
	}

	/* JSON answer of a request; with opts.missingOk a 404 gives null. */
	async function api(path, opts) {
		opts = opts || {};
		const method = opts.method || 'GET';
		let res;
		try {
			res = await fetch(path, { method: method, body: opts.body, cache: 'no-store' });
		} catch (e) {
			throw new ApiError(method, path, 'unreachable', String(e.message || e));
		}
		const text = await res.text();
		if (res.status === 404 && opts.missingOk)
			return null;
		if (!res.ok)
			throw new ApiError(method, path, res.status, text || res.statusText);
		if (!text)
			return null;
		try {
			return JSON.parse(text);
		} catch (e) {
			throw new ApiError(method, path, res.status, 'answer is not JSON: ' + text.slice(0, 80));
		}
	}

	/* ---- shared state: the header ---- */

	const state = { self: null, leaderAddr: '', raft: null, members: null, header: null };

	/* Views that use state.raft or state.members wait for this tick's header. */
	async function headerDone() {
		await (state.header || Promise.resolve()).catch(() => {});
	}

	/* The leader's node name: from the Raft configuration (servers), else from
	 * the LAN members, whose tags carry the server port. */
	function leaderName(addr) {
		for (const s of (state.raft && state.raft.Servers) || [])
			if (s.Address === addr)
				return s.Node;
		for (const m of state.members || [])
			if (m.Tags && m.Tags.role === 'consul' && m.Addr + ':' + m.Tags.port === addr)
				return m.Name;
		return '';
	}

	/* Like Promise.all, but waits for every request and fails with all of
	 * their errors (an array, which the error bar flattens): each endpoint
	 * that failed is named, not whichever answered first. */
	async function allOf(promises) {
		const settled = await Promise.allSettled(promises);
		const errors = settled.filter(r => r.status === 'rejected').map(r => r.reason);
		if (errors.length)
			throw errors;
		return settled.map(r => r.value);
	}

	async function refreshHeader() {
		if (!state.self) {
			state.self = await api('/v1/agent/self');
			const dc = state.self.Config.Datacenter;
			const me = state.self.Config.NodeName;
			byId('datacenter').textContent = dc;
			byId('datacenter').dataset.datacenter = dc;
			byId('agent').textContent = me + (state.self.Config.Server ? '' : ' (client agent)');
			byId('agent').dataset.agent = me;
			document.title = dc + ' · Conclave';
		}
		const errors = [];
		const keep = p => p.catch(e => { errors.push(e); return null; });
		/* only a server answers the Raft configuration itself */
		const [leader, raft, members] = await Promise.all([keep(api('/v1/status/leader')),
			state.self.Config.Server ? keep(api('/v1/operator/raft/configuration')) : null,
			keep(api('/v1/agent/members'))]);
		state.leaderAddr = leader || '';
		state.raft = raft;
		state.members = members;
		const name = state.leaderAddr ? leaderName(state.leaderAddr) : '';
		const el = byId('leader');
		el.dataset.leader = name || state.leaderAddr;
		el.dataset.leaderAddr = state.leaderAddr;
		el.replaceChildren(state.leaderAddr
			? h('span', { class: 'leader-name' }, name || state.leaderAddr,
				name ? h('span', { class: 'addr' }, state.leaderAddr) : null)
			: h('span', { class: 'noleader' }, 'no leader'));
		if (errors.length)
			throw errors;
	}

	/* A node's role: from the Raft configuration for servers; a LAN member
	 * that is not a server is a client agent; anything else was registered
	 * through the catalog API (an external node). */
	function nodeRole(node) {
		for (const s of (state.raft && state.raft.Servers) || [])
			if (s.Node === node)
				return s.Leader ? 'leader' : s.Voter ? 'voter' : 'nonvoter';
		if (!state.members)
			return null;
		const m = state.members.find(x => x.Name === node);
		if (!m)
			return 'external';
		return m.Tags && m.Tags.role === 'consul' ? 'server' : 'client';
	}

	function roleBadge(role) {
		if (!role)
			return h('span', { class: 'muted' }, '—');
		const text = { leader: 'server · leader', voter: 'server', nonvoter: 'server (non-voter)',
			server: 'server', client: 'client agent', external: 'external' }[role];
		return h('span', { class: 'role ' + role }, text);
	}

	/* ---- views ---- */

	function heading(title, ...extra) {
		return h('div', { class: 'heading' }, h('h1', null, title), extra);
	}

	function section(id) {
		return h('div', { id: id, class: 'data' }, h('p', { class: 'muted loading' }, 'Loading…'));
	}

	const nodesView = {
		render() {
			return [heading('Nodes', h('span', { id: 'nodes-summary', class: 'summary' })),
				section('nodes')];
		},
		async refresh() {
			const [nodes, checks] = await allOf([api('/v1/catalog/nodes'),
				api('/v1/health/state/any')]);
			await headerDone();
			const per = {};
			for (const c of checks || [])
				(per[c.Node] = per[c.Node] || []).push(c);
			nodes.sort((a, b) => a.Node.localeCompare(b.Node));
			let healthy = 0;
			const rows = nodes.map(n => {
				const cs = per[n.Node] || [];
				const health = worst(cs);
				const role = nodeRole(n.Node);
				if (health === 'passing')
					healthy++;
				return h('tr', { 'data-node': n.Node, 'data-health': health, 'data-role': role || '' },
					h('td', null, badge(health)),
					h('td', { class: 'name' }, link('#/nodes/' + enc(n.Node), n.Node)),
					h('td', { class: 'mono' }, n.Address),
					h('td', null, roleBadge(role)),
					h('td', null, checkCounts(cs)));
			});
			byId('nodes-summary').textContent = nodes.length + ' nodes, ' + healthy + ' healthy';
			byId('nodes').replaceChildren(table('nodes', ['Health', 'Node', 'Address', 'Role', 'Checks'],
				rows, 'No nodes in the catalog yet.'));
		},
	};

	const nodeView = {
		render(name) {
			return [heading(name, link('#/nodes', '← all nodes', { class: 'back' })),
				section('node')];
		},
		async refresh(name) {
			const [node, checks] = await allOf([api('/v1/catalog/node/' + enc(name)),
				api('/v1/health/node/' + enc(name))]);
			await headerDone();
			if (!node || !node.Node) {
				byId('node').replaceChildren(h('p', { class: 'empty' }, 'No node named ' + name + ' in the catalog.'));
				return;
			}
			const n = node.Node;
			const svcs = Object.values(node.Services || {}).sort((a, b) => a.ID.localeCompare(b.ID));
			byId('node').replaceChildren(
				h('dl', { class: 'props', 'data-node': n.Node, 'data-health': worst(checks || []) },
					h('dt', null, 'Health'), h('dd', null, badge(worst(checks || []))),
					h('dt', null, 'Address'), h('dd', { class: 'mono' }, n.Address),
					h('dt', null, 'Role'), h('dd', null, roleBadge(nodeRole(n.Node))),
					h('dt', null, 'Datacenter'), h('dd', null, n.Datacenter || ''),
					h('dt', null, 'Node ID'), h('dd', { class: 'mono' }, n.ID || '')),
				h('h2', null, 'Checks'),
				checksTable(checks || []),
				h('h2', null, 'Services'),
				table('services', ['Service', 'ID', 'Address', 'Tags'], svcs.map(s =>
					h('tr', { 'data-service-id': s.ID },
						h('td', { class: 'name' }, link('#/services/' + enc(s.Service), s.Service)),
						h('td', { class: 'mono' }, s.ID),
						h('td', { class: 'mono' }, (s.Address || n.Address) + (s.Port ? ':' + s.Port : '')),
						h('td', null, tags(s.Tags)))), 'No services on this node.'));
		},
	};

	function checksTable(checks) {
		return table('checks', ['Status', 'Check', 'ID', 'Service', 'Output'], checks.map(c =>
			h('tr', { 'data-check': c.CheckID, 'data-status': c.Status },
				h('td', null, badge(c.Status)),
				h('td', null, c.Name),
				h('td', { class: 'mono' }, c.CheckID),
				h('td', null, c.ServiceName || h('span', { class: 'muted' }, 'node')),
				h('td', { class: 'output' }, c.Output || ''))), 'No checks.');
	}

	const servicesView = {
		render() {
			return [heading('Services', h('span', { id: 'services-summary', class: 'summary' })),
				section('services')];
		},
		async refresh() {
			const services = await api('/v1/catalog/services');
			const names = Object.keys(services || {}).sort();
			const health = await allOf(names.map(n => api('/v1/health/service/' + enc(n))));
			const rows = names.map((name, i) => {
				const inst = health[i] || [];
				const all = inst.flatMap(e => e.Checks || []);
				const st = worst(all);
				const passing = inst.filter(e => worst(e.Checks || []) === 'passing').length;
				return h('tr', { 'data-service': name, 'data-health': st, 'data-instances': inst.length },
					h('td', null, badge(st)),
					h('td', { class: 'name' }, link('#/services/' + enc(name), name)),
					h('td', null, inst.length + (inst.length === 1 ? ' instance' : ' instances'),
						h('span', { class: 'muted' }, ' (' + passing + ' passing)')),
					h('td', null, tags(services[name])));
			});
			byId('services-summary').textContent = names.length + ' services';
			byId('services').replaceChildren(table('services', ['Health', 'Service', 'Instances', 'Tags'],
				rows, 'No services registered.'));
		},
	};

	const serviceView = {
		render(name) {
			return [heading(name, link('#/services', '← all services', { class: 'back' })),
				section('service')];
		},
		async refresh(name) {
			const inst = (await api('/v1/health/service/' + enc(name))) || [];
			inst.sort((a, b) => (a.Node.Node + a.Service.ID).localeCompare(b.Node.Node + b.Service.ID));
			byId('service').replaceChildren(table('instances',
				['Health', 'Node', 'Instance', 'Address', 'Tags', 'Checks'], inst.map(e =>
					h('tr', { 'data-instance': e.Node.Node + '/' + e.Service.ID,
						'data-health': worst(e.Checks || []) },
						h('td', null, badge(worst(e.Checks || []))),
						h('td', { class: 'name' }, link('#/nodes/' + enc(e.Node.Node), e.Node.Node)),
						h('td', { class: 'mono' }, e.Service.ID),
						h('td', { class: 'mono' }, (e.Service.Address || e.Node.Address) +
							(e.Service.Port ? ':' + e.Service.Port : '')),
						h('td', null, tags(e.Service.Tags)),
						h('td', null, (e.Checks || []).map(c =>
							h('div', { class: 'check', title: c.Output || '' }, badge(c.Status), ' ', c.Name))))),
				'No instances of ' + name + '.'));
		},
	};

	const raftView = {
		render() {
			return [heading('Raft', h('span', { id: 'raft-summary', class: 'summary' })), section('raft')];
		},
		async refresh() {
			await headerDone();
			/* a server's header has fetched it (its error is in the bar); a client asks here */
			const raft = state.self && state.self.Config.Server ? state.raft
				: await api('/v1/operator/raft/configuration');
			if (!raft) {
				byId('raft').replaceChildren(h('p', { class: 'empty' },
					'The Raft configuration is not available: see the error above.'));
				return;
			}
			const servers = raft.Servers || [];
			const voters = servers.filter(s => s.Voter).length;
			byId('raft-summary').textContent = servers.length + ' servers, ' + voters +
				' voters, quorum ' + (Math.floor(voters / 2) + 1) + ', configuration index ' +
				raft.Index;
			byId('raft').replaceChildren(table('servers',
				['Node', 'Address', 'State', 'Voter', 'ID', 'Protocol'], servers.map(s =>
					h('tr', { 'data-server': s.Node, 'data-leader': s.Leader ? 'true' : 'false',
						'data-voter': s.Voter ? 'true' : 'false' },
						h('td', { class: 'name' }, link('#/nodes/' + enc(s.Node), s.Node)),
						h('td', { class: 'mono' }, s.Address),
						h('td', null, s.Leader ? h('span', { class: 'role leader' }, 'leader')
							: h('span', { class: 'role voter' }, 'follower')),
						h('td', null, s.Voter ? 'yes' : 'no'),
						h('td', { class: 'mono' }, s.ID),
						h('td', null, s.ProtocolVersion))), 'No servers in the configuration.'));
		},
	};

	/* ---- key/value ---- */

	/* Key/Value / a / b: every folder a link, the one shown in bold. */
	function crumbs(path) {
		if (!path)
			return null; /* the root: the heading says it */
		const parts = path.split('/');
		if (parts[parts.length - 1] === '')
			parts.pop(); /* a folder: "a/b/" */
		const out = [link('#/kv/', 'Key/Value')];
		let acc = '';
		parts.forEach((p, i) => {
			acc += p + (i < parts.length - 1 || path.endsWith('/') ? '/' : '');
			out.push(h('span', { class: 'sep' }, ' / '));
			out.push(i < parts.length - 1 ? link('#/kv/' + encKey(acc), p) : h('strong', null, p));
		});
		return h('div', { class: 'crumbs' }, out);
	}

	function notice(where, text, cls) {
		byId(where).replaceChildren(text ? h('p', { class: 'notice ' + (cls || '') }, text) : '');
	}

	async function kvPut(key, value, cas) {
		const q = cas === undefined ? '' : '?cas=' + cas;
		return api('/v1/kv/' + encKey(key) + q, { method: 'PUT', body: value });
	}

	const kvFolderView = {
		render(prefix) {
			const form = h('form', { id: 'kv-create', class: 'kv-create', onsubmit: e => {
				e.preventDefault();
				kvFolderView.create(prefix, form);
			} },
			h('h2', null, 'Create'),
			h('label', null, 'Key', h('span', { class: 'hint' }, 'under ' + (prefix || 'the root') +
				'; end it with / for a folder'),
			h('input', { name: 'key', id: 'kv-new-key', autocomplete: 'off', placeholder: 'name' })),
			h('label', null, 'Value', h('textarea', { name: 'value', id: 'kv-new-value', rows: 4 })),
			h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Create')),
			h('div', { id: 'kv-create-msg' }));
			const del = prefix ? h('button', { id: 'kv-delete-folder', class: 'danger', type: 'button',
				onclick: () => kvFolderView.removeFolder(prefix) }, 'Delete folder') : null;
			return [heading('Key/Value', del), crumbs(prefix),
				h('div', { class: 'kv-layout' }, section('kv-list'), form)];
		},
		async refresh(prefix) {
			const keys = (await api('/v1/kv/' + encKey(prefix) + '?keys&separator=/',
				{ missingOk: true })) || [];
			const rows = keys.filter(k => k !== prefix).map(k => {
				const folder = k.endsWith('/');
				const rel = k.slice(prefix.length);
				return h('tr', { 'data-key': k, 'data-kind': folder ? 'folder' : 'key' },
					h('td', { class: 'name' }, h('span', { class: folder ? 'icon folder' : 'icon key' }),
						link('#/kv/' + encKey(k), rel)),
					h('td', null, folder ? 'folder' : 'key'),
					h('td', { class: 'actions' }, h('button', { class: 'small danger', type: 'button',
						onclick: () => folder ? kvFolderView.removeFolder(k) : kvFolderView.removeKey(k) },
					'Delete')));
			});
			byId('kv-list').replaceChildren(table('kv', ['Name', 'Kind', ''], rows,
				prefix ? 'This folder is empty.' : 'No keys yet.'));
		},
		async create(prefix, form) {
			const name = form.elements.key.value.trim();
			notice('kv-create-msg', '');
			if (!name || name.startsWith('/') || name.includes('//')) {
				notice('kv-create-msg', 'Enter a key name: not empty, no leading / and no empty segment.', 'bad');
				return;
			}
			const key = prefix + name;
			try {
				const ok = await kvPut(key, name.endsWith('/') ? '' : form.elements.value.value, 0);
				if (ok === false) {
					notice('kv-create-msg', 'Not created: ' + key + ' already exists.', 'bad');
					return;
				}
			} catch (e) {
				notice('kv-create-msg', e.message, 'bad');
				return;
			}
			form.reset();
			location.hash = '#/kv/' + encKey(key); /* the new folder, or the new key */
		},
		async removeKey(key) {
			if (!confirm('Delete the key ' + key + '?'))
				return;
			await runAction(() => api('/v1/kv/' + encKey(key), { method: 'DELETE' }));
		},
		async removeFolder(prefix) {
			if (!confirm('Delete the folder ' + prefix + ' and every key under it?'))
				return;
			const ok = await runAction(() => api('/v1/kv/' + encKey(prefix) + '?recurse', { method: 'DELETE' }));
			if (ok && route.view === kvFolderView && route.arg.startsWith(prefix))
				location.hash = '#/kv/' + encKey(parentOf(prefix));
		},
	};

	function parentOf(key) {
		const k = key.endsWith('/') ? key.slice(0, -1) : key;
		return k.slice(0, k.lastIndexOf('/') + 1);
	}

	/* A value's bytes as text, or null when they are not UTF-8. */
	function decodeValue(b64) {
		if (b64 === null || b64 === undefined)
			return '';
		const bin = atob(b64);
		const bytes = new Uint8Array(bin.length);
		for (let i = 0; i < bin.length; i++)
			bytes[i] = bin.charCodeAt(i);
		try {
			return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
		} catch (e) {
			return null;
		}
	}

	const kvKeyView = {
		loaded: null, /* { key, index } of what the editor holds */
		render(key) {
			kvKeyView.loaded = null;
			return [heading('Key/Value'), crumbs(key), section('kv-key')];
		},
		async refresh(key) {
			const entries = await api('/v1/kv/' + encKey(key), { missingOk: true });
			const box = byId('kv-key');
			if (!entries || !entries.length) {
				kvKeyView.loaded = null;
				box.replaceChildren(h('p', { class: 'empty', id: 'kv-missing' }, 'There is no key ' + key + '. ',
					link('#/kv/' + encKey(parentOf(key)), 'Back to its folder')));
				return;
			}
			const e = entries[0];
			const loaded = kvKeyView.loaded;
			if (loaded && loaded.key === key) {
				if (loaded.index === e.ModifyIndex)
					return;
				const ta = byId('kv-value');
				if (ta && ta.value !== ta.defaultValue) {
					notice('kv-remote', 'This key changed on the server (index ' + e.ModifyIndex +
						') since you started editing; saving now will be refused. Reload to see it.', 'warn');
					return;
				}
			}
			kvKeyView.loaded = { key: key, index: e.ModifyIndex };
			const text = decodeValue(e.Value);
			const binary = text === null;
			const ta = h('textarea', { id: 'kv-value', 'data-key': key, rows: 12, spellcheck: 'false',
				readonly: binary }, binary ? e.Value : text);
			box.replaceChildren(...[
				h('dl', { class: 'props' },
					h('dt', null, 'Key'), h('dd', { class: 'mono', id: 'kv-key-name' }, e.Key),
					h('dt', null, 'Flags'), h('dd', null, String(e.Flags)),
					h('dt', null, 'Indexes'), h('dd', null, 'created at ' + e.CreateIndex + ', modified at ' +
						e.ModifyIndex + ', lock ' + e.LockIndex),
					e.Session ? [h('dt', null, 'Session'), h('dd', { class: 'mono' }, e.Session)] : null),
				binary ? h('p', { class: 'notice warn' },
					'The value is not UTF-8 text; it is shown as base64 and cannot be edited here.') : null,
				h('label', { class: 'value' }, 'Value', ta),
				h('div', { class: 'buttons' },
					h('button', { id: 'kv-save', class: 'primary', type: 'button', disabled: binary,
						onclick: () => kvKeyView.save(key) }, 'Save'),
					h('button', { id: 'kv-reload', type: 'button',
						onclick: () => { kvKeyView.loaded = null; tick(); } }, 'Reload'),
					h('button', { id: 'kv-delete', class: 'danger', type: 'button',
						onclick: () => kvKeyView.remove(key) }, 'Delete')),
				h('div', { id: 'kv-remote' }),
				h('div', { id: 'kv-msg' })].filter(Boolean));
		},
		async save(key) {
			const loaded = kvKeyView.loaded;
			if (!loaded)
				return;
			const ta = byId('kv-value');
			try {
				const ok = await kvPut(key, ta.value, loaded.index);
				if (ok === false) {
					notice('kv-msg', 'Not saved: the key was changed since it was loaded. Reload to see the new value.', 'bad');
					return;
				}
			} catch (e) {
				notice('kv-msg', e.message, 'bad');
				return;
			}
			kvKeyView.loaded = null;
			await tick();
			notice('kv-msg', 'Saved.', 'good');
		},
		async remove(key) {
			if (!confirm('Delete the key ' + key + '?'))
				return;
			const ok = await runAction(() => api('/v1/kv/' + encKey(key), { method: 'DELETE' }));
			if (ok)
				location.hash = '#/kv/' + encKey(parentOf(key));
		},
	};

	/* ---- routing and the refresh loop ---- */

	let route = null;
	let timer = null;
	let generation = 0;

	function parse(hash) {
		const m = /^#\/([a-z]+)(?:\/(.*))?$/.exec(hash || '');
		const name = m ? m[1] : 'nodes';
		const rest = m && m[2] !== undefined ? m[2] : '';
		let arg;
		try {
			arg = rest.split('/').map(decodeURIComponent).join('/');
		} catch (e) {
			arg = rest;
		}
		switch (name) {
		case 'nodes': return arg ? { nav: 'nodes', view: nodeView, arg } : { nav: 'nodes', view: nodesView, arg };
		case 'services': return arg ? { nav: 'services', view: serviceView, arg }
			: { nav: 'services', view: servicesView, arg };
		case 'kv': return arg === '' || arg.endsWith('/') ? { nav: 'kv', view: kvFolderView, arg }
			: { nav: 'kv', view: kvKeyView, arg };
		case 'raft': return { nav: 'raft', view: raftView, arg };
		default: return { nav: 'nodes', view: nodesView, arg: '' };
		}
	}

	function showErrors(errors) {
		const bar = byId('errors');
		const msgs = [...new Set(errors.flat().map(e => e.message || String(e)))];
		bar.hidden = msgs.length === 0;
		bar.dataset.errors = msgs.length;
		bar.replaceChildren(...msgs.map(m => h('div', { class: 'error' }, m)));
	}

	/* Runs a write from a button; its error goes to the error bar. */
	async function runAction(fn) {
		try {
			await fn();
		} catch (e) {
			showErrors([e]);
			return false;
		}
		await tick();
		return true;
	}

	async function tick() {
		clearTimeout(timer);
		const my = ++generation;
		const r = route;
		const errors = [];
		if (!document.hidden) {
			/* header and view in parallel: without a leader each read waits ~7 s */
			state.header = refreshHeader();
			await Promise.all([state.header.catch(e => errors.push(e)),
				r.view.refresh(r.arg).catch(e => errors.push(e))]);
		}
		if (my !== generation)
			return; /* a newer refresh (route change, button) took over */
		showErrors(errors);
		if (errors.length) {
			for (const p of document.querySelectorAll('#main .data > p.loading'))
				p.replaceWith(h('p', { class: 'empty' }, 'Not available: see the error above.'));
		}
		const up = byId('updated');
		const now = new Date();
		up.dataset.updated = now.toISOString();
		up.textContent = 'updated ' + now.toLocaleTimeString();
		timer = setTimeout(tick, POLL_MS);
	}

	function go() {
		route = parse(location.hash);
		for (const a of document.querySelectorAll('#nav a')) {
			if (a.dataset.view === route.nav)
				a.setAttribute('aria-current', 'page');
			else
				a.removeAttribute('aria-current');
		}
		const main = byId('main');
		main.dataset.view = route.nav;
		main.replaceChildren(...route.view.render(route.arg).flat().filter(Boolean));
		tick();
	}

	window.addEventListener('hashchange', go);
	go();
})();
