// Adds allow-ACLs to the secured Kafka of kflow's devstack, through the Admin API.
// Run as a single-file program: java -cp 'lib/kafka/*' KafkaAcls.java CLIENT.properties ACL...
// Each ACL is "PRINCIPAL RESOURCE_TYPE PATTERN_TYPE NAME OPERATION", e.g.
// "User:alice GROUP LITERAL * READ". Exits 1 with the error if the broker refuses one.
import java.io.FileInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            config.load(in);
        }
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String[] part = args[i].trim().split("\\s+");
            ResourcePattern resource = new ResourcePattern(
                ResourceType.fromString(part[1]), part[3], PatternType.fromString(part[2]));
            AccessControlEntry entry = new AccessControlEntry(
                part[0], "*", AclOperation.fromString(part[4]), AclPermissionType.ALLOW);
            bindings.add(new AclBinding(resource, entry));
        }
        try (Admin admin = Admin.create(config)) {
            admin.createAcls(bindings).all().get();
        }
        System.out.println("added " + bindings.size() + " ACLs");
    }
}
