# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pre-flight fit: RAM per node with the platform's reserve, the preferred node, clusters, cores only against a ratio."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.capacity import describe_misfits, fit, node_usage


def node(key, ram, used=0, cluster='c1', *, cores=8, cores_used=0):
    return {'key': key, 'name': 'node%d' % key, 'cluster': cluster, 'ram': ram, 'cores': cores, 'ram_used': used, 'cores_used': cores_used}


def vm(key, ram, cores=2, cluster='c1'):
    return {'id': key, 'name': 'vm%d' % key, 'ram': ram, 'cores': cores, 'cluster': cluster}


def test_usage_counts_the_running_machines_per_node_and_skips_nodes_that_take_no_vm():
    nodes = [{'$key': 1, 'name': 'n1', 'running': True, 'ram': 9216, 'vm_ram': 8192, 'cores': 8, 'cluster_name': 'c1'},
             {'$key': 2, 'name': 'n2', 'running': False, 'ram': 8192, 'cores': 8, 'cluster_name': 'c1'},
             {'$key': 3, 'name': 'n3', 'running': True, 'maintenance': True, 'ram': 8192, 'cores': 8, 'cluster_name': 'c1'}]
    statuses = [{'node': 1, 'running': True, 'running_ram': 1024, 'running_cores': 2},
                {'node': 1, 'running': True, 'running_ram': '512', 'running_cores': None},
                {'node': None, 'running': False, 'running_ram': 4096}]
    assert node_usage(nodes, statuses) == [{'key': 1, 'name': 'n1', 'cluster': 'c1', 'ram': 8192, 'cores': 8, 'ram_used': 1536,
                                           'cores_used': 2}]


def test_largest_first_on_the_node_with_most_room():
    result = fit([node(1, 4096), node(2, 6144)], [vm(1, 2048), vm(2, 4096), vm(3, 2048)])
    assert result['fits'] and result['placements'] == {2: 'node2', 1: 'node1', 3: 'node1'}
    assert [(n['name'], n['ram_free'], n['ram_free_after']) for n in result['nodes']] == [('node1', 4096, 0), ('node2', 6144, 2048)]


def test_the_reserve_is_left_to_the_platform_and_a_misfit_says_by_how_much():
    result = fit([node(1, 4096, used=1024)], [vm(1, 2048), vm(2, 1024)], ram_reserve=1024)
    assert not result['fits'] and result['placements'] == {1: 'node1'}
    assert result['misfits'] == [{'id': 2, 'name': 'vm2', 'ram': 1024, 'cores': 2, 'short_by_mb': 1024,
                                  'why': 'needs 1024 MB of RAM; the most any node of its cluster has free is 0 MB'}]
    assert 'vm2 (id 2): needs 1024 MB of RAM' in describe_misfits(result)


def test_the_preferred_node_first_then_the_others():
    assert fit([node(1, 8192), node(2, 4096)], [vm(1, 2048)], preferred_node='node2')['placements'] == {1: 'node2'}
    assert fit([node(1, 8192), node(2, 1024)], [vm(1, 2048)], preferred_node=2)['placements'] == {1: 'node1'}


def test_a_vm_runs_only_in_its_cluster():
    result = fit([node(1, 8192, cluster='c1'), node(2, 8192, cluster='c2')], [vm(1, 4096, cluster='c2'), vm(2, 4096, cluster='c3')])
    assert result['placements'] == {1: 'node2'} and result['misfits'][0]['why'] == 'no node of its cluster c3 can take a VM'


def test_cores_count_only_against_a_ratio():
    nodes = [node(1, 65536, cores=4, cores_used=4)]
    assert fit(nodes, [vm(1, 1024, cores=4)])['fits']
    assert not fit(nodes, [vm(1, 1024, cores=4)], core_ratio=1.5)['fits']
    assert fit(nodes, [vm(1, 1024, cores=4)], core_ratio=2.0)['fits']
