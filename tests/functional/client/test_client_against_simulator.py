"""The real client layer against the real simulator over HTTPS: auth, TLS, paging, chunking, lookup, budgets, power."""


import pytest
import requests

from ansible_collections.vergeos.power.plugins.module_utils import power, vms
from ansible_collections.vergeos.power.plugins.module_utils.policy import PowerOptions
from ansible_collections.vergeos.power.plugins.module_utils.client import VergeOSClient
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.query import chunk_filters, list_rows, url_length
from ansible_collections.vergeos.power.plugins.module_utils.results import vm_result

DEFAULT_API_KEY = 'vergeos-sim-admin-key'  # the default world's key (tests/simulator/scenario.py)
PASSWORD = 'Pa55-w0rd!'
AUTH_WORLD = {
    'users': [{'name': 'admin', 'password': PASSWORD}],
    'api_keys': [{'key': 'automation-key-123', 'user': 'automation'}],
    'vms': [{'key': 1, 'name': 'web01', 'power': 'running'}, {'key': 2, 'name': 'db01'}],
}
DUPLICATES_WORLD = {
    'vms': [
        {'key': 3, 'name': 'web01', 'power': 'running'},
        {'key': 7, 'name': 'web01'},
        {'key': 8, 'name': "it's, {odd} \\ name", 'power': 'running'},
        {'key': 9, 'name': 'solo'},
    ],
}
TAGS_WORLD = {
    'tag_categories': [{'name': 'env'}, {'name': 'app'}],
    'tags': [{'name': 'production', 'category': 'env'}, {'name': 'web', 'category': 'app'}],
    'vms': [
        {'key': 1, 'name': 'web01', 'tags': ['production', 'web'], 'power': 'running'},
        {'key': 2, 'name': 'web02', 'tags': ['web']},
        {'key': 3, 'name': 'db01', 'tags': ['production']},
        {'key': 4, 'name': 'web03', 'tags': ['web', 'production']},
    ],
}
CA_ENV = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')


def client_for(sim, **options):
    settings = {'username': 'admin', 'password': 'admin', 'ca_path': sim.ca}
    settings.update(options)
    return VergeOSClient(sim.host, **settings)


def api_requests(sim):
    """The request log without the simulator's own control calls."""
    return [entry for entry in sim.requests() if entry['path'].startswith('/api/')]


# ---------------------------------------------------------------- authentication


def test_basic_auth(sim):
    sim.load(AUTH_WORLD)
    sim.clear_requests()
    with client_for(sim, password=PASSWORD) as client:
        assert client.about()['yb_version']
    (entry,) = api_requests(sim)
    assert entry['user'] == 'admin' and entry['status'] == 200
    assert entry['path'] == '/api/v4/system'


def test_bearer_api_key(sim):
    sim.load(AUTH_WORLD)
    sim.clear_requests()
    with client_for(sim, username=None, password=None, api_key='automation-key-123') as client:
        assert [row['name'] for row in vms.select_vms(client, ids=[1, 2])] == ['db01', 'web01']
    assert {entry['user'] for entry in api_requests(sim)} == {'automation'}


def test_default_world_api_key(world):
    with client_for(world, username=None, password=None, api_key=DEFAULT_API_KEY) as client:
        assert client.about()['cloud_name']


def test_401_with_a_bad_api_key_does_not_show_it(sim):
    sim.load(AUTH_WORLD)
    with client_for(sim, api_key='not-the-key-987') as client, pytest.raises(VergeOSError) as caught:
        vms.vm_by_id(client, 1)
    assert caught.value.status == 401
    assert 'not-the-key-987' not in str(caught.value)
    assert 'check api_key' in str(caught.value)


# ---------------------------------------------------------------- TLS, with and without REQUESTS_CA_BUNDLE


@pytest.fixture(params=['no CA bundle in the environment', 'REQUESTS_CA_BUNDLE=system bundle'])
def ca_environment(request, monkeypatch):
    for name in CA_ENV:
        monkeypatch.delenv(name, raising=False)
    if request.param.startswith('REQUESTS_CA_BUNDLE'):
        monkeypatch.setenv('REQUESTS_CA_BUNDLE', requests.certs.where())
    return request.param


def test_tls_verification_fails_without_the_ca(world, ca_environment):
    with client_for(world, ca_path=None) as client, pytest.raises(VergeOSError) as caught:
        client.about()
    assert caught.value.status is None
    assert 'certificate verification' in str(caught.value) and 'ca_path' in str(caught.value)


def test_tls_verification_works_with_ca_path(world, ca_environment):
    with client_for(world) as client:
        assert client.about()['$key'] == 1


def test_validate_certs_false_works(world, ca_environment):
    with client_for(world, ca_path=None, validate_certs=False) as client:
        assert client.about()['$key'] == 1


def test_host_given_as_https_url(world):
    with VergeOSClient(world.url + '/', username='admin', password='admin', ca_path=world.ca) as client:
        assert client.url == world.url
        assert client.about()['$key'] == 1


# ---------------------------------------------------------------- paging and chunking


def test_paged_listing_equals_the_unpaged_one(sim):
    sim.load({'generate': {'count': 45}})
    with client_for(sim) as client:
        sim.clear_requests()
        paged = list_rows(client, 'vms', vms.VM_FIELDS, filter_text=vms.NOT_SNAPSHOT, page_size=10)
        assert len(api_requests(sim)) == 5  # 10 + 10 + 10 + 10 + 5
        unpaged = list_rows(client, 'vms', vms.VM_FIELDS, filter_text=vms.NOT_SNAPSHOT, page_size=0)
    assert len(paged) == 45
    assert paged == unpaged
    assert len({row['$key'] for row in paged}) == 45


def test_an_exact_multiple_of_the_page_size_ends_with_an_empty_page(sim):
    sim.load({'generate': {'count': 20}})
    with client_for(sim) as client:
        sim.clear_requests()
        rows = list_rows(client, 'vms', ['$key'], filter_text=vms.NOT_SNAPSHOT, page_size=10)
    assert len(rows) == 20
    assert len(api_requests(sim)) == 3


def test_chunked_key_reads_return_every_vm_within_the_url_bound(sim):
    sim.load({'generate': {'count': 300}})
    bound = 1500
    with client_for(sim) as client:
        keys = [row['$key'] for row in list_rows(client, 'vms', ['$key'], filter_text=vms.NOT_SNAPSHOT, page_size=0)]
        expected_chunks = len(list(chunk_filters('$key', keys, vms.NOT_SNAPSHOT,
                                                 url_length(client.url, 'vms', {'fields': ','.join(vms.VM_FIELDS)}), bound)))
        sim.clear_requests()
        found = vms.read_vms(client, keys, max_url_length=bound)
    assert sorted(found) == sorted(keys)
    log = api_requests(sim)
    assert expected_chunks > 3
    assert len(log) == expected_chunks
    for entry in log:
        assert entry['status'] == 200
        assert len(requests.Request('GET', client.url + entry['path'], params=entry['query']).prepare().url) <= bound


def test_names_with_commas_quotes_braces_and_backslashes_survive(sim):
    sim.load(DUPLICATES_WORLD)
    with client_for(sim) as client:
        row = vms.vm_by_name(client, "it's, {odd} \\ name")
        assert row['$key'] == 8
        rows = vms.select_vms(client, names=["it's, {odd} \\ name", 'solo'])
    assert [row['$key'] for row in rows] == [8, 9]


# ---------------------------------------------------------------- lookup and budgets


def test_snapshots_are_never_selected(world):
    with client_for(world) as client:
        assert vms.select_vms(client, filters={'name_regex': 'nightly$'}, allow_empty=True) == []
        everything = vms.select_vms(client, filters={'name_regex': '.'})
    assert len(everything) == 10


def test_rows_carry_power_state_node_and_cluster_from_one_request(world):
    with client_for(world) as client:
        world.clear_requests()
        results = [vm_result(row) for row in vms.select_vms(client, filters={'name_regex': '^vm-'})]
    assert len(api_requests(world)) == 1
    running = [result for result in results if result['running']]
    assert running and all(result['power_state'] == 'running' and result['node'] for result in running)
    stopped = [result for result in results if not result['running']]
    assert stopped and all(result['power_state'] == 'stopped' and result['node'] is None for result in stopped)
    assert {result['cluster'] for result in results} == {'cluster1'}


def test_filters_on_the_simulator(sim):
    sim.load(TAGS_WORLD)
    with client_for(sim) as client:
        sim.clear_requests()
        tagged = vms.select_vms(client, filters={'tags': ['production', 'web']})
        assert [entry['path'] for entry in api_requests(sim)] == ['/api/v4/tag_members', '/api/v4/vms']
        assert [row['name'] for row in tagged] == ['web01', 'web03']
        assert [row['name'] for row in vms.select_vms(client, filters={'name_regex': '^web0[12]$'})] == ['web01', 'web02']
        assert [row['name'] for row in vms.select_vms(client, filters={'tags': ['web'], 'power_state': ['stopped']})] == ['web02', 'web03']


# ---------------------------------------------------------------- power: the engine over the real client


def test_power_on_many_then_off_acting_once_per_vm(sim):
    sim.load({'speed': 100, 'vms': [{'key': key, 'name': 'vm%d' % key} for key in range(1, 6)]})
    selection = {'filters': {'name_regex': '^vm'}}
    with client_for(sim) as client:
        sim.clear_requests()
        started = power.power_vms(client, PowerOptions(state='running', poll_interval=0.1), selection=selection)
        assert started['failed'] is False and {vm['power_state'] for vm in started['vms']} == {'running'}
        assert sorted((entry['body']['vm'], entry['body']['action']) for entry in api_requests(sim) if entry['method'] == 'POST') == \
            [(key, 'poweron') for key in range(1, 6)]
        sim.clear_requests()
        stopped = power.power_vms(client, PowerOptions(state='stopped', poll_interval=0.1), selection=selection)
    assert stopped['failed'] is False and {vm['power_state'] for vm in stopped['vms']} == {'stopped'}
    assert sorted((entry['body']['vm'], entry['body']['action']) for entry in api_requests(sim) if entry['method'] == 'POST') == \
        [(key, 'poweroff') for key in range(1, 6)]
